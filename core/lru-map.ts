/**
 * A Map with a size limit that forgets its least recently used entry first (reads and writes both count as
 * use). Map keeps insertion order, so re-inserting on use is all the bookkeeping an LRU needs; this is the
 * whole of what Vigil needs from an LRU, so it does not pull in a package for it.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();
  /** Entries dropped to stay within the limit, since creation. */
  evicted = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`LruMap limit ${limit}: a positive integer`);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) {
      this.map.delete(this.map.keys().next().value as K);
      this.evicted++;
    }
    return this;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }
}
