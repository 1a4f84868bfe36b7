/**
 * The shared adapter conformance suite: every provider adapter runs the same scenarios through a
 * real gateway, driven by the official `openai` SDK, against a loopback mock that speaks that
 * provider's own wire format. A provider's test file supplies a `ProviderMock` (how the provider
 * would answer each scenario, from fixtures that follow its public API reference) and a few
 * provider-specific checks on the translated request.
 */
import type { Test } from 'tap';
import OpenAI from 'openai';
import type { IncomingHttpHeaders } from 'node:http';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments. */
  arguments: string;
}

export interface Usage {
  input: number;
  output: number;
}

/** How the provider should answer the next request. */
export type Scenario =
  | { kind: 'text'; text: string; usage: Usage; finish?: 'stop' | 'length' }
  | { kind: 'stream'; parts: string[]; usage: Usage }
  | { kind: 'tools'; calls: ToolCall[]; usage: Usage; stream: boolean }
  | { kind: 'error'; status: number; message: string; retryAfter?: string }
  | { kind: 'malformed' }
  /** Stream one text part, then hold the connection open until the client goes away. */
  | { kind: 'hang'; part: string };

export interface RecordedCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

export interface ProviderMock {
  /** What goes in the provider's `base_url`. */
  baseUrl: string;
  respondWith(scenario: Scenario): void;
  /** Requests received, in order. */
  calls: RecordedCall[];
  /** Resolves when the provider saw the client of a `hang` stream disconnect. */
  hangClosed(): Promise<void>;
  close(): Promise<void>;
}

export interface AdapterSpec {
  /** Adapter name, for test titles. */
  name: string;
  startMock(): Promise<ProviderMock>;
  /** Gateway YAML serving model id `test-model` from this provider at `baseUrl`. */
  config(baseUrl: string): string;
  /** Provider-specific checks of the translated chat request (auth headers, path, body shape). */
  checkChatRequest(t: Test, call: RecordedCall): void;
  /** Checks that a tool-result turn (assistant tool_calls + tool message) was translated. */
  checkToolResultRequest(t: Test, call: RecordedCall): void;
  /** Checks that `response_format: json_object` reached the provider in its own terms; omit when unsupported. */
  checkJsonModeRequest?(t: Test, call: RecordedCall): void;
  /** Status the provider uses for "overloaded" (Anthropic 529, others 503). */
  overloadedStatus: number;
  /**
   * False for providers that answer with at most one tool call (GigaChat): the round trip then
   * expects one call, and the follow-up still replays two parallel calls, as a conversation begun
   * with another provider would.
   */
  parallelToolCalls?: boolean;
}

const tools: OpenAI.Chat.ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];

/** An `openai` SDK client of a gateway started with `yaml`; the gateway closes on `t`'s teardown. */
export async function gatewayClient(t: Test, yaml: string): Promise<OpenAI> {
  const gw = await startGateway(yaml);
  t.teardown(() => gw.close());
  return new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
}

/** What a client assembled from a chat completion stream. */
export interface CollectedStream {
  text: string;
  /** The non-empty content deltas, in order. */
  contents: string[];
  /** Tool call names and accumulated arguments, by tool call index. */
  names: string[];
  args: string[];
  finish: string | null | undefined;
  usage: OpenAI.CompletionUsage | null | undefined;
}

/** Reads a chat completion stream to its end, as a client assembles it. */
export async function collectStream(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>): Promise<CollectedStream> {
  const out: CollectedStream = { text: '', contents: [], names: [], args: [], finish: undefined, usage: undefined };
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    const content = choice?.delta.content;
    if (content) {
      out.text += content;
      out.contents.push(content);
    }
    for (const tc of choice?.delta.tool_calls ?? []) {
      if (tc.function?.name) out.names[tc.index] = tc.function.name;
      out.args[tc.index] = (out.args[tc.index] ?? '') + (tc.function?.arguments ?? '');
    }
    out.finish = choice?.finish_reason ?? out.finish;
    if (chunk.usage) out.usage = chunk.usage;
  }
  return out;
}

/** Reads a chat completion stream that fails part-way: the text that arrived first, and the error. */
export async function streamUntilError(stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>): Promise<{ text: string; error: unknown }> {
  let text = '';
  const error = await (async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  })().catch((e: unknown) => e);
  return { text, error };
}

export function runConformance(t: Test, spec: AdapterSpec): void {
  let mock: ProviderMock;
  let gw: TestGateway;
  let client: OpenAI;

  t.before(async () => {
    mock = await spec.startMock();
    gw = await startGateway(spec.config(mock.baseUrl));
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-client', maxRetries: 0 });
  });
  t.afterEach(() => void (mock.calls.length = 0));
  t.teardown(async () => {
    await gw.close();
    await mock.close();
  });

  const ask = (extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
    client.chat.completions.create({ model: 'test-model', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }], ...extra });

  t.test(`${spec.name}: plain chat`, async (t) => {
    mock.respondWith({ kind: 'text', text: 'Hi there!', usage: { input: 11, output: 3 } });
    const res = await ask({ max_tokens: 50, temperature: 0.2 });
    t.equal(res.object, 'chat.completion');
    t.equal(res.choices[0]?.message.role, 'assistant');
    t.equal(res.choices[0]?.message.content, 'Hi there!');
    t.equal(res.choices[0]?.finish_reason, 'stop');
    t.match(res.usage, { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 });
    t.equal(mock.calls.length, 1);
    spec.checkChatRequest(t, mock.calls[0]!);
  });

  t.test(`${spec.name}: length finish reason`, async (t) => {
    mock.respondWith({ kind: 'text', text: 'Hi', usage: { input: 2, output: 1 }, finish: 'length' });
    const res = await ask({ max_tokens: 1 });
    t.equal(res.choices[0]?.finish_reason, 'length');
  });

  t.test(`${spec.name}: streamed chat with usage chunk and [DONE]`, async (t) => {
    mock.respondWith({ kind: 'stream', parts: ['Hel', 'lo', ' world'], usage: { input: 5, output: 3 } });
    const stream = await client.chat.completions.create({ model: 'test-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hello' }] });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      t.equal(chunk.object, 'chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    t.equal(text, 'Hello world');
    t.equal(finish, 'stop');
    t.match(usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
  });

  t.test(`${spec.name}: tool call round trip`, async (t) => {
    const parallel = spec.parallelToolCalls !== false;
    const oslo: OpenAI.Chat.ChatCompletionMessageToolCall = { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } };
    const asked = [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }, { id: oslo.id, ...oslo.function }];
    mock.respondWith({ kind: 'tools', stream: false, usage: { input: 20, output: 10 }, calls: parallel ? asked : asked.slice(0, 1) });
    const res = await ask({ tools, tool_choice: 'auto' });
    const calls = res.choices[0]?.message.tool_calls ?? [];
    t.equal(res.choices[0]?.finish_reason, 'tool_calls');
    t.equal(calls.length, parallel ? 2 : 1, parallel ? 'parallel tool calls' : 'one tool call');
    const fn = (c: (typeof calls)[number]) => (c.type === 'function' ? c.function : undefined);
    t.equal(fn(calls[0]!)?.name, 'get_weather');
    t.same(JSON.parse(fn(calls[0]!)?.arguments ?? ''), { city: 'Paris' });
    if (parallel) t.same(JSON.parse(fn(calls[1]!)?.arguments ?? ''), { city: 'Oslo' });

    mock.respondWith({ kind: 'text', text: 'Sunny in Paris, snow in Oslo.', usage: { input: 40, output: 8 } });
    const history = parallel ? calls : [...calls, oslo];
    const followUp = await client.chat.completions.create({
      model: 'test-model',
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        { role: 'assistant', content: null, tool_calls: history },
        { role: 'tool', tool_call_id: history[0]!.id, content: '{"temp":21}' },
        { role: 'tool', tool_call_id: history[1]!.id, content: '{"temp":-3}' },
      ],
    });
    t.equal(followUp.choices[0]?.message.content, 'Sunny in Paris, snow in Oslo.');
    spec.checkToolResultRequest(t, mock.calls[1]!);
  });

  t.test(`${spec.name}: streamed tool call arguments accumulate`, async (t) => {
    mock.respondWith({ kind: 'tools', stream: true, usage: { input: 20, output: 10 }, calls: [{ id: 'call_9', name: 'get_weather', arguments: '{"city":"Lima"}' }] });
    const stream = client.chat.completions.stream({ model: 'test-model', tools, messages: [{ role: 'user', content: 'Weather in Lima?' }] });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    t.equal(final.choices[0]?.finish_reason, 'tool_calls');
    t.equal(call?.type === 'function' ? call.function.name : undefined, 'get_weather');
    t.same(JSON.parse(call?.type === 'function' ? call.function.arguments : ''), { city: 'Lima' });
  });

  if (spec.checkJsonModeRequest) {
    t.test(`${spec.name}: JSON mode`, async (t) => {
      mock.respondWith({ kind: 'text', text: '{"ok":true}', usage: { input: 5, output: 4 } });
      const res = await ask({ response_format: { type: 'json_object' } });
      t.same(JSON.parse(res.choices[0]?.message.content ?? ''), { ok: true });
      spec.checkJsonModeRequest!(t, mock.calls[0]!);
    });
  }

  const errorCases: [number, new (...args: never[]) => Error, number][] = [
    [400, OpenAI.BadRequestError, 400],
    [401, OpenAI.AuthenticationError, 401],
    [403, OpenAI.PermissionDeniedError, 403],
    [404, OpenAI.NotFoundError, 404],
    [429, OpenAI.RateLimitError, 429],
    [500, OpenAI.InternalServerError, 502],
    [spec.overloadedStatus, OpenAI.InternalServerError, 503],
  ];
  for (const [status, ErrorClass, clientStatus] of errorCases) {
    t.test(`${spec.name}: provider ${status} → client ${clientStatus} (${ErrorClass.name})`, async (t) => {
      mock.respondWith({ kind: 'error', status, message: `provider says ${status}`, retryAfter: status === 429 ? '13' : undefined });
      const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      t.ok(err instanceof ErrorClass, `got ${(err as Error).constructor.name}`);
      t.equal(err.status, clientStatus);
      t.match(err.message, `provider says ${status}`);
      t.ok(err.headers?.get('x-request-id'), 'request id header');
      if (status === 429) t.equal(err.headers?.get('retry-after'), '13');
    });
  }

  t.test(`${spec.name}: malformed provider body → 502 in OpenAI shape`, async (t) => {
    mock.respondWith({ kind: 'malformed' });
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    t.ok(err instanceof OpenAI.APIError);
    t.equal(err.status, 502);
    t.equal(err.code, 'upstream_invalid_response');
  });

  t.test(`${spec.name}: client abort mid-stream reaches the provider`, async (t) => {
    mock.respondWith({ kind: 'hang', part: 'partial' });
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'test-model', stream: true, messages: [{ role: 'user', content: 'go' }] }, { signal: controller.signal });
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) {
        controller.abort();
        break;
      }
    }
    const closed = await Promise.race([mock.hangClosed().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
    t.ok(closed, 'provider saw the disconnect');
    const res = await fetch(`${gw.url}/health`);
    t.equal(res.status, 200, 'gateway still serving');
  });
}
