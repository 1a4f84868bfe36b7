/** auth's key caches: bounded by entry count (least recently used first), entries expire. */
import t from 'tap';
import { ExpiringLru } from '../../plugins/auth/key-cache.js';

t.test('past its bound the cache drops the least recently used key', async (t) => {
  const cache = new ExpiringLru<number>(2);
  cache.set('a', 1, 60_000, 0);
  cache.set('b', 2, 60_000, 0);
  t.equal(cache.get('a', 1), 1);
  cache.set('c', 3, 60_000, 2);
  t.equal(cache.get('b', 3), undefined, 'b was least recently used');
  t.equal(cache.get('a', 3), 1);
  t.equal(cache.get('c', 3), 3);
  t.equal(cache.size, 2);
});

t.test('an entry expires at its TTL and setting a key again replaces it', async (t) => {
  const cache = new ExpiringLru<string>(10);
  cache.set('k', 'old', 1_000, 0);
  cache.set('k', 'new', 1_000, 500);
  t.equal(cache.size, 1);
  t.equal(cache.get('k', 1_499), 'new');
  t.equal(cache.get('k', 1_500), undefined, 'expired');
  t.equal(cache.size, 0, 'an expired entry is dropped when seen');
});

t.test('deleteWhere drops the matching entries only', async (t) => {
  const cache = new ExpiringLru<{ org: string }>(10);
  cache.set('a', { org: 'x' }, 60_000, 0);
  cache.set('b', { org: 'y' }, 60_000, 0);
  cache.set('c', { org: 'x' }, 60_000, 0);
  t.equal(cache.deleteWhere((v) => v.org === 'x'), 2);
  t.same([cache.get('a', 1), cache.get('b', 1)?.org, cache.get('c', 1)], [undefined, 'y', undefined]);
  cache.set('d', { org: 'z' }, 60_000, 2);
  t.equal(cache.size, 2, 'the list and the map still agree after deletions');
});
