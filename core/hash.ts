/**
 * 32-bit FNV-1a over a string's UTF-16 code units (http://www.isthe.com/chongo/tech/comp/fnv/): stable across
 * processes and versions, cheap, and even enough to split keys into shares or seed a stream by name. Not for
 * anything an adversary chooses.
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
