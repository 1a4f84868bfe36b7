/**
 * Internal `chat.completion` → OpenAI Response object
 * (https://platform.openai.com/docs/api-reference/responses/object), and the pieces the stream
 * translator shares: ids, the echoed request fields, usage.
 *
 * Ids derive from the request id, so a response keeps its id across retries and the `responses`
 * plugin can name a stored response before it is written (`responseIdFor`).
 */
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type {
  Response,
  ResponseFunctionToolCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponseReasoningItem,
  ResponseStatus,
  ResponseUsage,
} from 'openai/resources/responses/responses';
import type { Inbound } from './dialect.js';

/** A Response as the gateway writes it: `output_text` is a convenience the SDKs add themselves. */
export type ResponseBody = Omit<Response, 'output_text'> & { store?: boolean };

/** The id of the Response answering request `requestId`: `resp_` and the id, other characters than `[A-Za-z0-9_-]` as `_`. */
export function responseIdFor(requestId: string): string {
  return `resp_${idPart(requestId)}`;
}

/** The id of output item `index` of a response (`msg_…`, `fc_…`, `rs_…`). */
export function itemIdFor(prefix: 'msg' | 'fc' | 'rs', requestId: string, index: number): string {
  return `${prefix}_${idPart(requestId)}_${index}`;
}

function idPart(requestId: string): string {
  return requestId.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The Response skeleton for a request: identity, status and the request fields a Response echoes
 * (from the client's own body, so they read as the client sent them).
 */
export function baseResponse(inbound: Inbound, requestId: string, created: number, fallbackModel: string, status: ResponseStatus): ResponseBody {
  const body = inbound.body;
  const field = <T>(key: string, fallback: T): T => (body[key] === undefined || body[key] === null ? fallback : (body[key] as T));
  const response: ResponseBody = {
    id: responseIdFor(requestId),
    object: 'response',
    created_at: created,
    status,
    error: null,
    incomplete_details: null,
    instructions: field('instructions', null),
    max_output_tokens: field('max_output_tokens', null),
    model: typeof body['model'] === 'string' ? body['model'] : fallbackModel,
    output: [],
    parallel_tool_calls: field('parallel_tool_calls', true),
    previous_response_id: field('previous_response_id', null),
    reasoning: field('reasoning', null),
    store: field('store', true),
    temperature: field('temperature', null),
    text: field('text', { format: { type: 'text' } }),
    tool_choice: field('tool_choice', 'auto'),
    tools: echoTools(body['tools']),
    top_p: field('top_p', null),
    truncation: field('truncation', 'disabled'),
    metadata: field('metadata', {}),
  };
  if (typeof body['user'] === 'string') response.user = body['user'];
  if (typeof body['safety_identifier'] === 'string') response.safety_identifier = body['safety_identifier'];
  if (typeof body['prompt_cache_key'] === 'string') response.prompt_cache_key = body['prompt_cache_key'];
  return response;
}

/** Function tools as a Response lists them: `parameters` and `strict` always present. */
function echoTools(tools: unknown): Response['tools'] {
  if (!Array.isArray(tools)) return [];
  return tools.map((t: Record<string, unknown>) => ({ ...t, parameters: t['parameters'] ?? null, strict: t['strict'] ?? null }) as Response['tools'][number]);
}

/** Chat usage → Responses usage (details always present, zero when the provider reported none). */
export function responseUsage(usage: CompletionUsage): ResponseUsage {
  const cacheWrite = (usage.prompt_tokens_details as { cache_write_tokens?: unknown } | undefined)?.cache_write_tokens;
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0, cache_write_tokens: typeof cacheWrite === 'number' ? cacheWrite : 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage.total_tokens,
  };
}

/** How a chat finish reason ends a Response. */
export function endOf(finishReason: string | null | undefined): Pick<Response, 'incomplete_details'> & { status: 'completed' | 'incomplete' } {
  if (finishReason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export function messageItem(id: string, text: string, status: ResponseOutputMessage['status'], refusal?: string): ResponseOutputMessage {
  const content: ResponseOutputMessage['content'] =
    refusal !== undefined ? [{ type: 'refusal', refusal }] : [{ type: 'output_text', text, annotations: [], logprobs: [] }];
  return { id, type: 'message', role: 'assistant', status, content };
}

export function reasoningItem(id: string, text: string, status: NonNullable<ResponseReasoningItem['status']>): ResponseReasoningItem {
  return { id, type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text }], status };
}

export function functionCallItem(id: string, callId: string, name: string, args: string, status: NonNullable<ResponseFunctionToolCall['status']>): ResponseFunctionToolCall {
  return { id, type: 'function_call', call_id: callId, name, arguments: args, status };
}

/** Non-standard chat fields some providers put on the assistant message. */
type AssistantMessage = ChatCompletion.Choice['message'] & { reasoning_content?: string | null };

/** The Response for a complete chat answer. */
export function chatToResponse(chat: unknown, inbound: Inbound, requestId: string): ResponseBody {
  const completion = chat as ChatCompletion;
  const choice = completion.choices?.[0];
  const end = endOf(choice?.finish_reason);
  const itemStatus = end.status === 'completed' ? 'completed' : 'incomplete';
  const response = baseResponse(inbound, requestId, completion.created ?? Math.floor(Date.now() / 1000), completion.model ?? '', end.status);
  response.incomplete_details = end.incomplete_details;
  if (end.status === 'completed') response.completed_at = Math.floor(Date.now() / 1000);

  const output: ResponseOutputItem[] = [];
  const message = choice?.message as AssistantMessage | undefined;
  if (typeof message?.reasoning_content === 'string' && message.reasoning_content !== '') {
    output.push(reasoningItem(itemIdFor('rs', requestId, output.length), message.reasoning_content, itemStatus));
  }
  const text = typeof message?.content === 'string' ? message.content : '';
  const toolCalls = (message?.tool_calls ?? []).filter((c) => c.type === 'function');
  if (typeof message?.refusal === 'string' && message.refusal !== '') {
    output.push(messageItem(itemIdFor('msg', requestId, output.length), '', itemStatus, message.refusal));
  } else if (text !== '' || toolCalls.length === 0) {
    output.push(messageItem(itemIdFor('msg', requestId, output.length), text, itemStatus));
  }
  for (const call of toolCalls) {
    output.push(functionCallItem(itemIdFor('fc', requestId, output.length), call.id, call.function.name, call.function.arguments, itemStatus));
  }
  response.output = output;
  if (completion.usage) response.usage = responseUsage(completion.usage);
  return response;
}
