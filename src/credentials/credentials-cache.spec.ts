import { CredentialsCache } from './credentials-cache';

describe('CredentialsCache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000));

  it('returns a value until its TTL passes', () => {
    const cache = new CredentialsCache<string>({ maxEntries: 10, ttlMs: 100 }, clock);
    cache.set('a', 'A', cache.epoch);
    now += 99;
    expect(cache.get('a')).toBe('A');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry', () => {
    const cache = new CredentialsCache<string>({ maxEntries: 2, ttlMs: 1000 }, clock);
    cache.set('a', 'A', cache.epoch);
    cache.set('b', 'B', cache.epoch);
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('c', 'C', cache.epoch);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
  });

  it('drops an entry on delete and everything on clear', () => {
    const cache = new CredentialsCache<string>({ maxEntries: 10, ttlMs: 1000 }, clock);
    cache.set('a', 'A', cache.epoch);
    cache.set('b', 'B', cache.epoch);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe('B');
    cache.clear();
    expect(cache.get('b')).toBeUndefined();
  });

  it('does not keep a value read before an invalidation that happened meanwhile', () => {
    const cache = new CredentialsCache<string>({ maxEntries: 10, ttlMs: 1000 }, clock);
    const epoch = cache.epoch; // a reader starts
    cache.delete('a'); // a write elsewhere invalidates
    cache.set('a', 'stale', epoch); // the reader finishes with the old value
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 'fresh', cache.epoch);
    expect(cache.get('a')).toBe('fresh');
  });

  it('does not keep a value read before the whole cache was cleared meanwhile', () => {
    const cache = new CredentialsCache<string>({ maxEntries: 10, ttlMs: 1000 }, clock);
    const epoch = cache.epoch; // a reader starts
    cache.clear(); // an unreadable invalidation message drops everything
    cache.set('a', 'stale', epoch);
    expect(cache.get('a')).toBeUndefined();
  });

  it('caches nothing with a TTL of 0, and refuses nonsense options', () => {
    const cache = new CredentialsCache<string>({ maxEntries: 10, ttlMs: 0 }, clock);
    cache.set('a', 'A', cache.epoch);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.enabled).toBe(false);
    expect(() => new CredentialsCache({ maxEntries: 0, ttlMs: 1 })).toThrow(RangeError);
    expect(() => new CredentialsCache({ maxEntries: 1, ttlMs: -1 })).toThrow(RangeError);
  });
});
