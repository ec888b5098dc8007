/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby, public domain), over the UTF-8 bytes of a string — the hash
 * scikit-learn's FeatureHasher uses, so a model trained in Python can hash the same way. Written here rather
 * than taken from npm because the JavaScript ports (murmurhash-js, murmurhash3js, imurmurhash) hash the low
 * byte of each UTF-16 code unit, which differs from UTF-8 for every non-ASCII character.
 *
 * The string is encoded to UTF-8 into a reused buffer, so hashing allocates nothing (the hot path hashes a
 * string per record per hashed field). Lone surrogates hash as U+FFFD, as Buffer.from(s, 'utf8') encodes them. Reference: https://github.com/aappleby/smhasher/blob/master/src/MurmurHash3.cpp
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

// The UTF-8 bytes of the string being hashed. One reusable buffer (hashing is synchronous), grown only for a
// longer string than any before, so hashing allocates nothing in the steady state; and the hash itself runs
// on local variables, which the JIT keeps unboxed.
let scratch = new Uint8Array(256);

/** Encodes `s` as UTF-8 into `scratch`; returns the byte length. At most 3 bytes per UTF-16 code unit. */
function encodeUtf8(s: string): number {
  const n = s.length;
  if (scratch.length < n * 3) scratch = new Uint8Array(Math.max(n * 3, scratch.length * 2));
  const b = scratch;
  let j = 0;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[j++] = c;
    } else if (c < 0x800) {
      b[j++] = 0xc0 | (c >> 6);
      b[j++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c < 0xe000) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          b[j++] = 0xf0 | (cp >> 18);
          b[j++] = 0x80 | ((cp >> 12) & 0x3f);
          b[j++] = 0x80 | ((cp >> 6) & 0x3f);
          b[j++] = 0x80 | (cp & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      b[j++] = 0xe0 | (c >> 12);
      b[j++] = 0x80 | ((c >> 6) & 0x3f);
      b[j++] = 0x80 | (c & 0x3f);
    }
  }
  return j;
}

function murmur3(b: Uint8Array, length: number, seed: number): number {
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = length & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= b[blocks + 2]! << 16;
    if (rest >= 2) k ^= b[blocks + 1]! << 8;
    k ^= b[blocks]!;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3_x86_32 of the UTF-8 encoding of `s`, as an unsigned 32-bit integer. */
export function murmur3Utf8(s: string, seed = 0): number {
  // Encode first: encoding may replace `scratch` with a larger buffer.
  const length = encodeUtf8(s);
  return murmur3(scratch, length, seed);
}

/** MurmurHash3_x86_32 of raw bytes (Avro `bytes` / `fixed` values), as an unsigned 32-bit integer. */
export function murmur3Bytes(bytes: Uint8Array, seed = 0): number {
  return murmur3(bytes, bytes.length, seed);
}

/**
 * The bucket and sign scikit-learn's FeatureHasher gives a hash: bucket = |h as int32| mod k (with its special
 * case for -2^31), sign = +1 when the int32 is ≥ 0. Returned as a signed bucket index: `bucket + 1` or
 * `-(bucket + 1)`, so one number carries both without allocating.
 */
export function signedBucket(hash: number, buckets: number): number {
  const s = hash | 0;
  const bucket = s === -2147483648 ? (2147483647 - (buckets - 1)) % buckets : Math.abs(s) % buckets;
  return s >= 0 ? bucket + 1 : -(bucket + 1);
}

/**
 * `signedBucket(murmur3Utf8(s, seed), buckets)` in one call. It returns a small integer, which V8 passes
 * without boxing, where a 32-bit hash returned across a call boundary may be boxed.
 */
export function murmur3Utf8Bucket(s: string, seed: number, buckets: number): number {
  const length = encodeUtf8(s);
  return signedBucket(murmur3(scratch, length, seed), buckets);
}

export function murmur3BytesBucket(bytes: Uint8Array, seed: number, buckets: number): number {
  return signedBucket(murmur3(bytes, bytes.length, seed), buckets);
}
