/**
 * Native pass-through for clients that spoke the OpenAI Responses API (`/v1/responses`) to an
 * `openai` provider with `responses_api: true`: when no plugin rewrote the conversation, the
 * client's own body goes to the upstream's `/responses` (target model, `stream`, output limit from
 * the operation), so hosted-tool-free requests keep every Responses feature, and the provider's own
 * answer rides next to the chat translation the plugins see (`NATIVE`, see
 * core/api/dialects/dialect.ts). Reference: https://platform.openai.com/docs/api-reference/responses
 *
 * The gateway owns response ids (`responseIdFor`, what the `responses` plugin stores under), so the
 * native answer carries the gateway's id, and the upstream is asked not to store (`store: false`):
 * a chain continues through the gateway's store, never the provider's.
 */
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { Response, ResponseOutputItem, ResponseStreamEvent, ResponseUsage } from 'openai/resources/responses/responses';
import { NATIVE, type NativeBody } from '../../../core/api/dialects/dialect.js';
import { responseIdFor } from '../../../core/api/dialects/responses.js';
import type { Usage } from '../../../core/context.js';
import type { EventSourceMessage } from '../../../core/http/sse.js';
import type { Operation, StreamTranslator, TranslatedResponse } from '../adapter.js';
import { makeUsage, openAIUsage, type FinishReason } from '../openai-shape.js';
import { providerError, streamEventJson, streamTruncated } from '../upstream-errors.js';

type Json = Record<string, unknown>;

/** Per operation, so the conversation is serialised once, not per duty. */
/**
 * True when `op` may go upstream as the client's own Responses body: a `responses` request whose
 * conversation no plugin changed, that continues no stored response.
 */
export function isNativeResponses(op: Operation): boolean {
  const inbound = op.inbound;
  if (inbound?.dialect !== 'responses' || inbound.operation !== 'create' || op.endpoint !== 'chat.completions') return false;
  return op.inboundIntact === true && inbound.body['previous_response_id'] == null;
}

/**
 * Request settings the dialect translates one to one (chat name → Responses name): the native body
 * takes them from the operation, so what a plugin set, defaulted or removed (`transform`) holds on
 * this path too.
 */
const SETTINGS: readonly (readonly [string, string])[] = [
  ['temperature', 'temperature'],
  ['top_p', 'top_p'],
  ['parallel_tool_calls', 'parallel_tool_calls'],
  ['user', 'user'],
  ['safety_identifier', 'safety_identifier'],
  ['prompt_cache_key', 'prompt_cache_key'],
  ['service_tier', 'service_tier'],
];

/** The client's body for the upstream's `/responses`, with the operation's model, stream and settings. */
export function nativeResponsesBody(op: Operation): Json {
  const body: Json = { ...op.inbound!.body, model: op.model, store: false };
  delete body['previous_response_id'];
  if (op.stream) body['stream'] = true;
  else delete body['stream'];
  for (const [chat, responses] of SETTINGS) {
    if (op.body[chat] === undefined) delete body[responses];
    else body[responses] = op.body[chat];
  }
  const max = op.body['max_completion_tokens'] ?? op.body['max_tokens'];
  if (typeof max === 'number') body['max_output_tokens'] = max;
  else delete body['max_output_tokens'];
  const effort = op.body['reasoning_effort'];
  const reasoning = { ...(body['reasoning'] as Json | null | undefined) };
  if (typeof effort === 'string') body['reasoning'] = { ...reasoning, effort };
  else if (reasoning['effort'] !== undefined) {
    delete reasoning['effort'];
    body['reasoning'] = reasoning;
  }
  return body;
}

/** Responses usage → ours. */
export function usageOfResponse(u: ResponseUsage | undefined | null): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const extra: { cached?: number; reasoning?: number } = {};
  if (typeof u.input_tokens_details?.cached_tokens === 'number') extra.cached = u.input_tokens_details.cached_tokens;
  if (typeof u.output_tokens_details?.reasoning_tokens === 'number') extra.reasoning = u.output_tokens_details.reasoning_tokens;
  return makeUsage(Number(u.input_tokens ?? 0), Number(u.output_tokens ?? 0), extra);
}

function finishOf(response: Pick<Response, 'status' | 'incomplete_details'>, hasCalls: boolean): FinishReason {
  if (response.status === 'incomplete') return response.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
  return hasCalls ? 'tool_calls' : 'stop';
}

/** What the plugins see of a native Response: the chat.completion it amounts to. */
function chatOfResponse(response: Response, fallbackModel: string): ChatCompletion {
  let content = '';
  let reasoning = '';
  let refusal: string | null = null;
  const toolCalls: ChatCompletionMessageFunctionToolCall[] = [];
  for (const item of (response.output ?? []) as ResponseOutputItem[]) {
    if (item.type === 'message') {
      for (const part of item.content) {
        if (part.type === 'output_text') content += part.text;
        else if (part.type === 'refusal') refusal = (refusal ?? '') + part.refusal;
      }
    } else if (item.type === 'function_call') {
      toolCalls.push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
    } else if (item.type === 'reasoning') {
      reasoning += (item.content ?? []).map((c) => c.text).join('');
    }
  }
  const message: ChatCompletion.Choice['message'] & { reasoning_content?: string } = { role: 'assistant', content: refusal !== null && content === '' ? null : content, refusal };
  if (toolCalls.length) message.tool_calls = toolCalls;
  if (reasoning) message.reasoning_content = reasoning;
  const chat: ChatCompletion = {
    id: response.id,
    object: 'chat.completion',
    created: response.created_at,
    model: typeof response.model === 'string' ? response.model : fallbackModel,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishOf(response, toolCalls.length > 0) }],
  };
  const usage = usageOfResponse(response.usage);
  if (usage) chat.usage = openAIUsage(usage);
  return chat;
}

/** A native Response → the chat body for the plugins, with the Response (under the gateway's id) attached. */
export function parseNativeResponse(op: Operation, body: unknown): TranslatedResponse {
  const response = { ...(body as Response), id: responseIdFor(op.requestId) };
  const chat = chatOfResponse(response, op.model);
  const native: NativeBody = { dialect: 'responses', body: response, chatText: JSON.stringify(chat) };
  (chat as { [NATIVE]?: NativeBody })[NATIVE] = native;
  return { body: chat, usage: usageOfResponse(response.usage) };
}

/** Events whose `response` object is re-labelled with the gateway's id. */
const CARRIES_RESPONSE = new Set(['response.created', 'response.in_progress', 'response.queued', 'response.completed', 'response.incomplete', 'response.failed']);

/**
 * The upstream's Responses events → chat chunks for the plugins, each carrying the frame it came
 * from (`NATIVE`); an event that makes no chat chunk rides on an empty carrier chunk.
 */
export function nativeResponsesStream(op: Operation, provider: string): StreamTranslator {
  const id = responseIdFor(op.requestId);
  let created = Math.floor(Date.now() / 1000);
  let model = op.model;
  let usage: Usage | undefined;
  let finished = false;
  const calls = new Map<number, number>();
  const chunk = (delta: ChatCompletionChunk.Choice.Delta | null, finish: FinishReason | null = null, withUsage?: Usage): ChatCompletionChunk => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: delta ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [],
    ...(withUsage ? { usage: openAIUsage(withUsage) } : {}),
  });

  return {
    event(message: EventSourceMessage) {
      if (message.data === '[DONE]') return { chunks: [], done: true };
      const event = streamEventJson(message.data, provider) as unknown as ResponseStreamEvent;
      const chunks: ChatCompletionChunk[] = [];
      let data = message.data;
      switch (event.type) {
        case 'response.created':
          created = event.response.created_at ?? created;
          if (typeof event.response.model === 'string') model = event.response.model;
          chunks.push(chunk({ role: 'assistant', content: '' }));
          break;
        case 'response.output_text.delta':
          chunks.push(chunk({ content: event.delta }));
          break;
        case 'response.reasoning_text.delta':
          chunks.push(chunk({ reasoning_content: event.delta } as ChatCompletionChunk.Choice.Delta));
          break;
        case 'response.output_item.added':
          if (event.item.type === 'function_call') {
            const index = calls.size;
            calls.set(event.output_index, index);
            chunks.push(chunk({ tool_calls: [{ index, id: event.item.call_id, type: 'function', function: { name: event.item.name, arguments: event.item.arguments ?? '' } }] }));
          }
          break;
        case 'response.function_call_arguments.delta': {
          const index = calls.get(event.output_index);
          if (index !== undefined) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: event.delta } }] }));
          break;
        }
        case 'response.completed':
        case 'response.incomplete': {
          finished = true;
          usage = usageOfResponse(event.response.usage) ?? usage;
          chunks.push(chunk({}, finishOf(event.response, calls.size > 0)));
          if (usage) chunks.push(chunk(null, null, usage));
          break;
        }
        case 'response.failed':
          throw providerError(provider, { status: 502, message: event.response.error?.message ?? 'The response failed.', code: event.response.error?.code ?? null });
        case 'error':
          throw providerError(provider, { status: 502, message: event.message, code: event.code ?? null });
        default:
          break;
      }
      if (CARRIES_RESPONSE.has(event.type)) data = JSON.stringify({ ...event, response: { ...(event as { response: object }).response, id } });
      const frame = `event: ${event.type}\ndata: ${data.split('\n').join('\ndata: ')}\n\n`;
      const out = chunks.length ? chunks : [chunk(null)];
      out.forEach((c, i) => ((c as { [NATIVE]?: string[] })[NATIVE] = i === 0 ? [frame] : []));
      return finished ? { chunks: out, done: true } : { chunks: out };
    },
    end() {
      if (!finished) throw streamTruncated(provider);
      return [];
    },
    usage: () => usage,
  };
}
