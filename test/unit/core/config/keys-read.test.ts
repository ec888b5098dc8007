import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../support/services.js';

/**
 * Every key of vigil.yaml is read by something (issue #10: nine keys were validated and documented but reached
 * no client). A static check with the TypeScript checker, so it needs no broker and sees every code path:
 *
 * - the keys are the properties of every `z.strictObject({...})` in core/config/schema.ts and
 *   features-schema.ts (and of object literals spread into them);
 * - a key is read when code outside core/config/ and test/ accesses it (`config.kafka.consumer.fetchMinBytes`,
 *   a destructuring): VigilConfig is inferred from the schema, so the checker resolves such an access to the
 *   key's own declaration;
 * - or when an object holding it is handed on whole (`batching: config.batching`) to a place whose type has a
 *   property of the same name that is itself read, followed through any number of such hand-overs; handed to a
 *   library's type (the registry client's `auth`), it counts as read.
 *
 * Validation inside core/config/ (cross-field checks) does not count: a key only checked is still dead.
 */

const CONFIG_DIR = path.join(REPO_ROOT, 'core/config') + path.sep;
const SCHEMA_FILES = ['core/config/schema.ts', 'core/config/features-schema.ts'].map((f) =>
  path.join(REPO_ROOT, f),
);
/** Code that serves vigil.yaml; tests and benchmarks reading a key do not make it live. */
const READER_DIRS = ['cli', 'connector', 'core', 'model', 'schemas'].map(
  (d) => path.join(REPO_ROOT, d) + path.sep,
);

function program(): ts.Program {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(REPO_ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => expect.unreachable(String(d.messageText)) },
  );
  if (parsed === undefined) throw new Error('tsconfig.json could not be read');
  const roots = parsed.fileNames.filter((f) => READER_DIRS.some((d) => f.startsWith(d)));
  return ts.createProgram({ rootNames: roots, options: { ...parsed.options, noEmit: true } });
}

interface Key {
  readonly decl: ts.Declaration;
  readonly label: string;
}

/** The property declarations of the schema's objects, labelled `SchemaConst.key (file:line)`. */
function configKeys(p: ts.Program): Key[] {
  const keys: Key[] = [];
  p.getTypeChecker(); // binds every file, which sets the parent links used below
  for (const file of SCHEMA_FILES) {
    const sf = p.getSourceFile(file)!;
    const literals = new Map<string, ts.ObjectLiteralExpression>();
    const owner = (n: ts.Node): string => {
      for (let c: ts.Node | undefined = n; c; c = c.parent) {
        if (ts.isVariableDeclaration(c) && ts.isIdentifier(c.name)) return c.name.text;
      }
      return '?';
    };
    const add = (obj: ts.ObjectLiteralExpression, where: string) => {
      for (const prop of obj.properties) {
        if (ts.isPropertyAssignment(prop)) {
          const line = sf.getLineAndCharacterOfPosition(prop.getStart(sf)).line + 1;
          keys.push({
            decl: prop,
            label: `${where}.${prop.name.getText(sf)} (${path.relative(REPO_ROOT, file)}:${line})`,
          });
        } else if (ts.isSpreadAssignment(prop) && ts.isIdentifier(prop.expression)) {
          const spread = literals.get(prop.expression.text);
          if (spread) add(spread, where);
        }
      }
    };
    const visit = (n: ts.Node) => {
      if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
        if (ts.isObjectLiteralExpression(n.initializer)) literals.set(n.name.text, n.initializer);
      }
      if (
        ts.isCallExpression(n) &&
        ts.isPropertyAccessExpression(n.expression) &&
        n.expression.name.text === 'strictObject' &&
        n.arguments[0] &&
        ts.isObjectLiteralExpression(n.arguments[0])
      ) {
        add(n.arguments[0], owner(n));
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return keys;
}

function readDeclarations(p: ts.Program): {
  read: Set<ts.Declaration>;
  flows: Map<ts.Declaration, Set<ts.Declaration>>;
} {
  const checker = p.getTypeChecker();
  const read = new Set<ts.Declaration>();
  const flows = new Map<ts.Declaration, Set<ts.Declaration>>();
  const isConfigDecl = (d: ts.Declaration) => d.getSourceFile().fileName.startsWith(CONFIG_DIR);

  const flow = (from: ts.Type, to: ts.Type, depth: number) => {
    if (depth > 6) return;
    for (const prop of from.getProperties()) {
      const target = to.getNonNullableType().getProperty(prop.getName());
      if (target === undefined) continue;
      for (const d of prop.declarations ?? []) {
        let set = flows.get(d);
        if (set === undefined) {
          set = new Set();
          flows.set(d, set);
        }
        for (const t of target.declarations ?? []) {
          set.add(t);
          targets.add(t);
        }
      }
      const fromType = checker.getTypeOfSymbol(prop).getNonNullableType();
      const toType = checker.getTypeOfSymbol(target).getNonNullableType();
      if (fromType.getProperties().length > 0 && fromType !== toType) flow(fromType, toType, depth + 1);
    }
  };
  // The checker gives no contextual type inside `...(cond ? { auth: r.auth } : {})`: climb to the object the
  // spread lands in and take its property's type.
  const objectContext = (o: ts.ObjectLiteralExpression): ts.Type | undefined => {
    const direct = checker.getContextualType(o);
    if (direct !== undefined) return direct;
    let up: ts.Node = o.parent;
    while (ts.isParenthesizedExpression(up) || ts.isConditionalExpression(up)) up = up.parent;
    return ts.isSpreadAssignment(up) ? objectContext(up.parent as ts.ObjectLiteralExpression) : undefined;
  };
  const contextOf = (e: ts.Expression): ts.Type | undefined => {
    const direct = checker.getContextualType(e);
    if (direct !== undefined || !ts.isPropertyAssignment(e.parent)) return direct;
    const outer = objectContext(e.parent.parent as ts.ObjectLiteralExpression);
    const prop = outer?.getNonNullableType().getProperty(e.parent.name.getText());
    return prop === undefined ? undefined : checker.getTypeOfSymbol(prop);
  };
  // Config keys and whatever they were handed on to: a hand-over of such an object is followed further.
  const targets = new Set<ts.Declaration>();
  const tracked = (d: ts.Declaration) => isConfigDecl(d) || targets.has(d);
  const holdsConfig = (t: ts.Type) =>
    t
      .getNonNullableType()
      .getProperties()
      .some((s) => (s.declarations ?? []).some(tracked));
  const handOvers: { node: ts.Expression; from: ts.Type; spread: boolean; done: boolean }[] = [];

  for (const sf of p.getSourceFiles()) {
    if (sf.isDeclarationFile || !READER_DIRS.some((d) => sf.fileName.startsWith(d))) continue;
    if (sf.fileName.startsWith(CONFIG_DIR)) continue;
    const visit = (n: ts.Node) => {
      let symbol: ts.Symbol | undefined;
      if (ts.isPropertyAccessExpression(n)) symbol = checker.getSymbolAtLocation(n.name);
      else if (ts.isElementAccessExpression(n) && ts.isStringLiteralLike(n.argumentExpression)) {
        symbol = checker.getTypeAtLocation(n.expression).getProperty(n.argumentExpression.text);
      } else if (ts.isBindingElement(n) && ts.isObjectBindingPattern(n.parent)) {
        const name = n.propertyName ?? n.name;
        if (ts.isIdentifier(name)) symbol = checker.getTypeAtLocation(n.parent).getProperty(name.text);
      }
      for (const d of symbol?.declarations ?? []) read.add(d);

      // A value handed on whole: an argument, a property's value, a spread, an initialiser or a return.
      if (ts.isPropertyAccessExpression(n) || ts.isIdentifier(n)) {
        const parent = n.parent;
        const handedOn =
          (ts.isCallExpression(parent) || ts.isNewExpression(parent)
            ? parent.arguments?.includes(n as ts.Expression)
            : false) ||
          (ts.isPropertyAssignment(parent) && parent.initializer === n) ||
          ts.isSpreadAssignment(parent) ||
          ts.isReturnStatement(parent) ||
          (ts.isVariableDeclaration(parent) && parent.initializer === n && parent.type !== undefined);
        if (handedOn) {
          const from = checker.getTypeAtLocation(n);
          if (from.getNonNullableType().getProperties().length > 0) {
            handOvers.push({
              node: n as ts.Expression,
              from,
              spread: ts.isSpreadAssignment(parent),
              done: false,
            });
          }
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  // Until nothing new is reached: a hand-over of our own options type matters once config flowed into it.
  for (let changed = true; changed; ) {
    changed = false;
    for (const h of handOvers) {
      if (h.done || !holdsConfig(h.from)) continue;
      h.done = changed = true;
      const to = h.spread
        ? objectContext(h.node.parent.parent as ts.ObjectLiteralExpression)
        : contextOf(h.node);
      if (to !== undefined) flow(h.from, to, 0);
    }
  }
  return { read, flows };
}

describe('vigil.yaml keys', () => {
  it('each is read by the service, not only validated and documented', () => {
    const p = program();
    const keys = configKeys(p);
    expect(keys.length).toBeGreaterThan(80);
    const { read, flows } = readDeclarations(p);
    const isRead = (d: ts.Declaration, seen = new Set<ts.Declaration>()): boolean => {
      // Handed to a library (kafkajs's sasl, the registry client's auth): read where we cannot see.
      if (read.has(d) || d.getSourceFile().fileName.includes('/node_modules/')) return true;
      if (seen.has(d)) return false;
      seen.add(d);
      for (const next of flows.get(d) ?? []) if (isRead(next, seen)) return true;
      return false;
    };
    const dead = keys.filter((k) => !isRead(k.decl)).map((k) => k.label);
    expect(dead).toEqual([]);
  }, 120_000);
});
