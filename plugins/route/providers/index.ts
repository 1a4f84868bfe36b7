/** The provider adapters the `route` plugin knows, registered explicitly (no directory scanning). */
import type { AdapterDefinition } from '../adapter.js';
import openai from './openai.js';
import mock from './mock.js';
import anthropic from './anthropic/index.js';
import gemini from './gemini/index.js';
import yandex from './yandex/index.js';
import gigachat from './gigachat/index.js';
import cohere from './cohere/index.js';

export const adapters: ReadonlyMap<string, AdapterDefinition<never>> = new Map<string, AdapterDefinition<never>>([
  [openai.name, openai as AdapterDefinition<never>],
  [mock.name, mock as AdapterDefinition<never>],
  [anthropic.name, anthropic as AdapterDefinition<never>],
  [gemini.name, gemini as AdapterDefinition<never>],
  [yandex.name, yandex as AdapterDefinition<never>],
  [gigachat.name, gigachat as AdapterDefinition<never>],
  [cohere.name, cohere as AdapterDefinition<never>],
]);
