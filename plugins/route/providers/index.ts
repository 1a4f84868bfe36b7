/** The provider adapters the `route` plugin knows, registered explicitly (no directory scanning). */
import type { AdapterDefinition } from '../adapter.js';
import openai from './openai.js';
import mock from './mock.js';

export const adapters: ReadonlyMap<string, AdapterDefinition<never>> = new Map<string, AdapterDefinition<never>>([
  [openai.name, openai as AdapterDefinition<never>],
  [mock.name, mock as AdapterDefinition<never>],
]);
