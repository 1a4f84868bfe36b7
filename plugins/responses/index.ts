/**
 * `responses` — stored responses for the OpenAI Responses API: `store`, `previous_response_id`,
 * `GET /v1/responses/{id}` (and `…/{id}/input_items`), `DELETE /v1/responses/{id}`.
 *
 * The core has already turned a `POST /v1/responses` into a chat request (`ctx.inbound` keeps the
 * original; `store` and `previous_response_id` are in its `extra`). On the way down, a
 * `previous_response_id` is loaded for the caller's organization and its conversation put before
 * the new input — so every later plugin (`cache`, `transform`, `billing`) and every provider sees
 * the whole conversation, and a chain continues across providers. A completed answer is stored
 * unless the request said `store: false` (or `store_default` is false and it said nothing): the
 * chain's conversation with this turn's input and answer, this turn's input items, and the Response
 * object. It is written before the answer is complete for the client — a JSON answer before it is
 * sent, a stream before its last event — so a client that chains at once always finds it; a stream
 * that fails or is abandoned is not stored. A failed write is logged and counted; the client's
 * request never fails for it.
 *
 * Organizations never see each other's responses: rows are keyed by organization, and an id of
 * another organization is answered as an unknown one. Put it after `auth` (the organization is
 * known) and before `cache` (a cached answer is keyed by the whole conversation, so a chain can
 * only hit its own organization's entries).
 *
 * Per process: the store and a timer that deletes expired rows (it never opens the SQL store by
 * itself).
 */
import { definePlugin } from '../../core/plugin.js';
import { readSchema } from '../../core/config/schema.js';
import { ChunkStream, type Context, type GatewayResponse } from '../../core/context.js';
import type { GatewayEnv } from '../../core/env.js';
import { nativeBody, type Inbound } from '../../core/api/dialects/dialect.js';
import { responseIdFor, responsesDialect, type ResponsesExtra } from '../../core/api/dialects/responses.js';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { ResponsesConfig } from '../../schemas/types/plugins/responses.js';
import { RESPONSES_MIGRATIONS } from './migrations.js';
import { ResponseStore, type StoredResponse } from './store.js';
import { assistantMessage, inputItems, StreamedAnswer } from './conversation.js';
import { orgOf, responseNotFound, serveEndpoint } from './endpoints.js';

export type { ResponsesConfig };

/** `ctx.responses`: set on a Responses create the plugin handled (so `route` knows a `previous_response_id` was taken care of). */
export interface ResponsesState {
  /** The response this request continues, if any. */
  readonly previousId: string | undefined;
}

declare module '../../core/context.js' {
  interface ContextState {
    responses?: ResponsesState;
  }
}

/** How often expired rows are deleted. */
const PURGE_INTERVAL_MS = 10 * 60_000;

/** What outlives config versions. */
export interface ResponsesProcess {
  readonly store: ResponseStore;
  /** Deletes the expired rows now (what the timer does); resolves to how many. */
  purge(): Promise<number>;
  close(): Promise<void>;
}

function openProcess(env: GatewayEnv): ResponsesProcess {
  let used = false;
  let running: Promise<number> | undefined;
  const store = new ResponseStore(() => {
    used = true;
    return env.sql();
  });
  const purge = (): Promise<number> =>
    (running ??= store.purgeExpired().finally(() => {
      running = undefined;
    }));
  const timer = setInterval(() => {
    if (used && !running) purge().catch((err: unknown) => env.log.error({ err }, 'responses: deleting expired stored responses failed'));
  }, PURGE_INTERVAL_MS).unref();
  return {
    store,
    purge,
    async close() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { d: 86_400, h: 3_600, m: 60 };

/** `30d` → 2592000 (the schema allows whole days, hours or minutes). */
export function retentionSeconds(value: string): number {
  const m = /^([1-9]\d*)(d|h|m)$/.exec(value);
  if (!m) throw new TypeError(`a retention is a whole number of days, hours or minutes, such as 30d, not '${value}'`);
  return Number(m[1]) * UNIT_SECONDS[m[2]!]!;
}

export default definePlugin<ResponsesConfig, ResponsesProcess>({
  name: 'responses',
  schema: readSchema('plugins/responses'),
  after: ['auth'],
  kinds: ['model'],
  migrations: RESPONSES_MIGRATIONS,
  endpoints: [
    { method: 'GET', path: '/v1/responses/{id}', name: 'responses.retrieve' },
    { method: 'DELETE', path: '/v1/responses/{id}', name: 'responses.delete' },
  ],
  process: {
    create: openProcess,
    close: (state) => state.close(),
  },
  create(config, env, state) {
    const seconds = retentionSeconds(config.retention);
    const storeDefault = config.store_default;
    const failures = env.metrics.counter('switchyard_responses_store_failures_total', 'Stored responses that could not be written (the client got its answer; it cannot be continued or retrieved).');
    return {
      async handle(ctx, next) {
        if (ctx.endpoint === 'plugin') {
          if (ctx.pluginRoute?.plugin === 'responses') return serveEndpoint(ctx, state.store);
          return next();
        }
        const inbound = ctx.inbound;
        if (inbound?.dialect !== 'responses' || inbound.operation !== 'create' || ctx.body === undefined) return next();
        const extra = (inbound.extra ?? {}) as ResponsesExtra;
        const orgId = orgOf(ctx);
        const withInstructions = typeof inbound.body['instructions'] === 'string';
        let previous: StoredResponse | undefined;
        if (extra.previous_response_id !== undefined) {
          previous = await state.store.load(orgId, extra.previous_response_id);
          if (!previous) throw responseNotFound(extra.previous_response_id, 'previous_response_id');
          prependConversation(ctx.body, previous.conversation, withInstructions);
        }
        ctx.responses = { previousId: extra.previous_response_id };
        await next();

        if (!(extra.store ?? storeDefault) || ctx.response?.status !== 200) return;
        const save = async (completion: ChatCompletion): Promise<void> => {
          try {
            await state.store.save({
              orgId,
              id: responseIdFor(ctx.id),
              keyId: ctx.auth?.keyId,
              model: typeof inbound.body['model'] === 'string' ? inbound.body['model'] : completion.model,
              previousId: extra.previous_response_id,
              retentionSeconds: seconds,
              conversation: [...(previous?.conversation ?? []), ...turnMessages(inbound, withInstructions), assistantMessage(completion)],
              input: inputItems(inbound.body['input'], responseIdFor(ctx.id)),
              // What the client gets: the provider's own Response on a native pass-through, else the translation.
              response: (nativeBody(completion, 'responses') ?? responsesDialect.fromChat(completion, inbound, ctx.id)) as Record<string, unknown>,
            });
          } catch (err) {
            failures.inc();
            ctx.log.error({ err, request_id: ctx.id }, 'responses: storing the response failed; it cannot be retrieved or continued');
          }
        };
        // Stored before the answer's end goes out, so a client that chains at once finds it.
        const response = ctx.response;
        if (response.stream !== undefined) ctx.response = storingStream(ctx, response, save);
        else if (isCompletion(response.body)) await save(response.body);
      },
    };
  },
});

/** Puts a stored conversation before this turn's messages (after the `instructions` system message, which is this turn's own). */
function prependConversation(body: Record<string, unknown>, conversation: readonly Record<string, unknown>[], withInstructions: boolean): void {
  const messages = Array.isArray(body['messages']) ? (body['messages'] as unknown[]) : [];
  messages.splice(withInstructions ? 1 : 0, 0, ...conversation);
  body['messages'] = messages;
}

/** This turn's input in chat form, as translated before any plugin ran, without `instructions` (never carried over). */
function turnMessages(inbound: Inbound, withInstructions: boolean): Record<string, unknown>[] {
  const messages = JSON.parse(inbound.messagesText) as Record<string, unknown>[];
  return withInstructions ? messages.slice(1) : messages;
}

function isCompletion(body: unknown): body is ChatCompletion {
  return typeof body === 'object' && body !== null && Array.isArray((body as ChatCompletion).choices);
}

/**
 * The stream, assembling the answer as its chunks go out and storing it once the last one went —
 * before the core writes the stream's end (`response.completed`). A stream that fails or whose
 * client leaves is not stored. (On this route the core translates every chunk anyway, so wrapping
 * costs no raw pass-through.)
 */
function storingStream(ctx: Context, response: Extract<GatewayResponse, { stream: AsyncIterable<unknown> }>, save: (completion: ChatCompletion) => Promise<void>): ChunkStream {
  const inner = response.stream;
  const answer = new StreamedAnswer();
  return new ChunkStream(
    response.status,
    response.headers,
    (async function* () {
      for await (const chunk of inner) {
        answer.add(chunk);
        yield chunk;
      }
      await save(answer.completion(ctx.usage));
    })(),
  );
}
