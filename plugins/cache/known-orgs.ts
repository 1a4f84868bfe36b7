/**
 * The organizations this process has stored cache entries for. Entries are keyed org first
 * (`cache:<org>:<model>:…`), so a purge by org (or org and model) is one prefix delete; a purge
 * by model alone walks these orgs. Shared by the plugin (every config version) and the admin
 * module through the store they both hold.
 */
import type { KvStore } from '../../core/stores/kv.js';

/** Beyond this many orgs new ones are not remembered (a model-only purge then misses them; entries still expire). */
const MAX_KNOWN_ORGS = 100_000;

const registries = new WeakMap<KvStore, Set<string>>();

/** The org set for `kv` (`_` stands for requests without identity). */
export function knownOrgs(kv: KvStore): Set<string> {
  let orgs = registries.get(kv);
  if (!orgs) {
    orgs = new Set();
    registries.set(kv, orgs);
  }
  return orgs;
}

export function rememberOrg(orgs: Set<string>, org: string): void {
  if (orgs.size < MAX_KNOWN_ORGS) orgs.add(org);
}
