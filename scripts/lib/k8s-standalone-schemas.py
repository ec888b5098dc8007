"""Standalone kubeconform schemas from PyPI kubernetes-validate's bundled Kubernetes JSON schemas.

kubernetes-validate ships one file per type whose $refs point into a shared `/api/_definitions.json`, which
kubeconform cannot follow from a local directory. This writes, for every top-level resource kind (a schema with
`apiVersion` and `kind` enums), a copy whose `definitions` hold exactly the definitions it reaches, with `$ref`s
rewritten to `#/definitions/...` (the draft-04 form kubeconform compiles). File names stay `<kind>[-<group>]-<version>.json`, which is kubeconform's own
`{{.ResourceKind}}{{.KindSuffix}}.json` layout. The `-strict` flavour is used (additionalProperties: false), so
an unknown field is an error.

usage: k8s-standalone-schemas.py <minor, e.g. 1.33> <out-dir>
"""

import json
import os
import sys

import kubernetes_validate

minor, out = sys.argv[1], sys.argv[2]
src = os.path.join(
    os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema", f"v{minor}.0-local-strict"
)
with open(os.path.join(src, "_definitions.json")) as f:
    defs = json.load(f)["$defs"]
# The type files point into the shared file; the shared file's own definitions point within themselves.
PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def rewrite(node, seen):
    if isinstance(node, dict):
        ref = node.get("$ref")
        prefix = next((p for p in PREFIXES if isinstance(ref, str) and ref.startswith(p)), None)
        if prefix is not None:
            name = ref[len(prefix):]
            node = {**node, "$ref": "#/definitions/" + name}
            if name not in seen:
                seen[name] = None
                seen[name] = rewrite(defs[name], seen)
        return {k: rewrite(v, seen) if k != "$ref" else v for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v, seen) for v in node]
    return node


written = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".json") or name in ("_definitions.json", "all.json"):
        continue
    with open(os.path.join(src, name)) as f:
        schema = json.load(f)
    props = schema.get("properties", {})
    if "enum" not in props.get("kind", {}) or "enum" not in props.get("apiVersion", {}):
        continue
    if name.endswith("list-" + name.split("-", 1)[-1]) and "items" in props:
        continue  # List kinds are never rendered by a chart.
    seen = {}
    body = rewrite(schema, seen)
    body["definitions"] = seen
    body.pop("$id", None)
    with open(os.path.join(out, name), "w") as f:
        json.dump(body, f, separators=(",", ":"))
    written += 1
print(f"{written} standalone Kubernetes {minor} schemas in {out}", file=sys.stderr)
