/**
 * The recency list behind the memory store's LRU and auth's key caches: order after appends,
 * touches and removals, walked from both ends so a broken back-link shows.
 */
import t from 'tap';
import { RecencyList, type RecencyLinks } from '../../core/stores/recency-list.js';

interface Node extends RecencyLinks<Node> {
  name: string;
}

const node = (name: string): Node => ({ name, older: undefined, newer: undefined });

function order(list: RecencyList<Node>): { oldestFirst: string[]; newestFirst: string[] } {
  const oldestFirst: string[] = [];
  const newestFirst: string[] = [];
  for (let n = list.oldest; n; n = n.newer) oldestFirst.push(n.name);
  for (let n = list.newest; n; n = n.older) newestFirst.push(n.name);
  return { oldestFirst, newestFirst };
}

t.test('touching an entry makes it the newest and leaves the others in order', async (t) => {
  const list = new RecencyList<Node>();
  const [a, b, c] = [node('a'), node('b'), node('c')];
  for (const n of [a, b, c]) list.append(n);
  list.touch(a);
  t.same(order(list), { oldestFirst: ['b', 'c', 'a'], newestFirst: ['a', 'c', 'b'] });
  list.touch(a);
  t.same(order(list).oldestFirst, ['b', 'c', 'a'], 'touching the newest changes nothing');
  list.touch(c);
  t.same(order(list), { oldestFirst: ['b', 'a', 'c'], newestFirst: ['c', 'a', 'b'] });
});

t.test('removing the oldest, a middle and the newest entry keeps both ends linked', async (t) => {
  const list = new RecencyList<Node>();
  const nodes = ['a', 'b', 'c', 'd', 'e'].map(node);
  for (const n of nodes) list.append(n);
  list.remove(nodes[0]!);
  list.remove(nodes[2]!);
  list.remove(nodes[4]!);
  t.same(order(list), { oldestFirst: ['b', 'd'], newestFirst: ['d', 'b'] });
  t.equal(nodes[2]!.older, undefined, 'a removed entry keeps no links');
  list.remove(nodes[1]!);
  list.remove(nodes[3]!);
  t.equal(list.oldest, undefined);
  t.equal(list.newest, undefined);
  list.append(nodes[2]!);
  t.same(order(list), { oldestFirst: ['c'], newestFirst: ['c'] }, 'a removed entry can come back');
});
