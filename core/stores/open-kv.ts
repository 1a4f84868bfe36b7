/** Opens the configured key-value store. (Placeholder: implemented with the memory and Redis stores.) */
import type { Logger } from '../log.js';
import type { KvConfig, KvStore } from './kv.js';

export function openKvStore(_config: KvConfig, _log: Logger): KvStore {
  throw new Error('the key-value store is not implemented yet');
}
