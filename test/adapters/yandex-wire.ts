/**
 * A loopback Yandex Foundation Models REST API for tests, answering from the fixtures in
 * `test/fixtures/yandex/` (each names the reference page it follows): `{result: …}` completions
 * with int64 counts as strings, newline-delimited streams whose every line holds the WHOLE text so
 * far, `toolCallList` answers, both error envelopes (google.rpc.Status and grpc-gateway's
 * `{error: {grpcCode, httpCode, …}}`), and `textEmbedding`. Stream lines are written in two pieces
 * cut inside the line, so the gateway must reassemble lines across network chunks.
 */
import type { ServerResponse } from 'node:http';
import type { ProviderMock, RecordedCall, Scenario, Usage } from './conformance.js';
import { readFixture, startWireMock, writeJson as json } from './wire-mock.js';

/** A fixture without its `_source` note. */
export const yandexFixture = <T extends object = Record<string, unknown>>(name: string): T => readFixture<T>('yandex', name);

const MODEL_VERSION = (yandexFixture<{ result: { modelVersion: string } }>('completion').result.modelVersion);
const GRPC = yandexFixture<{ grpc_names: Record<string, [number, string]> }>('errors').grpc_names;

export function usageOf(u: Usage): Record<string, unknown> {
  return { inputTextTokens: String(u.input), completionTokens: String(u.output), totalTokens: String(u.input + u.output), completionTokensDetails: { reasoningTokens: '0' } };
}

export function result(message: Record<string, unknown>, status: string, usage: Usage): Record<string, unknown> {
  return { result: { alternatives: [{ message: { role: 'assistant', ...message }, status }], usage: usageOf(usage), modelVersion: MODEL_VERSION } };
}

/** Writes NDJSON lines, each split in two writes (on a byte boundary inside the line). */
export function writeLines(res: ServerResponse, lines: unknown[], end = true): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  for (const line of lines) {
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
    const cut = Math.floor(bytes.length / 2);
    res.write(bytes.subarray(0, cut));
    res.write(bytes.subarray(cut));
  }
  if (end) res.end();
}

function toolCallList(calls: { name: string; arguments: string }[]): Record<string, unknown> {
  return { toolCallList: { toolCalls: calls.map((c) => ({ functionCall: { name: c.name, arguments: JSON.parse(c.arguments) as unknown } })) } };
}

export function renderYandex(s: Scenario, call: RecordedCall, res: ServerResponse): void {
  if (call.url.endsWith('/textEmbedding')) {
    const text = String(call.body?.['text'] ?? '');
    const base = yandexFixture<{ embedding: string[]; modelVersion: string }>('text-embedding');
    return json(res, 200, { ...base, numTokens: String(Math.max(1, Math.ceil(text.length / 4))) });
  }
  switch (s.kind) {
    case 'text':
      return json(res, 200, result({ text: s.text }, s.finish === 'length' ? 'ALTERNATIVE_STATUS_TRUNCATED_FINAL' : 'ALTERNATIVE_STATUS_FINAL', s.usage));
    case 'stream': {
      // Cumulative text: line i holds parts[0..i]; completion tokens grow with it.
      const lines = s.parts.map((_, i) => {
        const last = i === s.parts.length - 1;
        const usage = { input: s.usage.input, output: last ? s.usage.output : i + 1 };
        return result({ text: s.parts.slice(0, i + 1).join('') }, last ? 'ALTERNATIVE_STATUS_FINAL' : 'ALTERNATIVE_STATUS_PARTIAL', usage);
      });
      return writeLines(res, lines);
    }
    case 'tools':
      if (!s.stream) return json(res, 200, result(toolCallList(s.calls), 'ALTERNATIVE_STATUS_TOOL_CALLS', s.usage));
      // Function calls arrive complete, on the final line.
      return writeLines(res, [result({ text: '' }, 'ALTERNATIVE_STATUS_PARTIAL', { input: s.usage.input, output: 0 }), result(toolCallList(s.calls), 'ALTERNATIVE_STATUS_TOOL_CALLS', s.usage)]);
    case 'error': {
      const headers = { 'retry-after': s.retryAfter };
      const [grpcCode, httpStatus] = GRPC[String(s.status)] ?? [2, 'Unknown'];
      // Authentication failures come as a bare google.rpc.Status; the rest in grpc-gateway's envelope.
      if (s.status === 401 || s.status === 403) return json(res, s.status, { code: grpcCode, message: s.message, details: [] }, headers);
      return json(res, s.status, { error: { grpcCode, httpCode: s.status, message: s.message, httpStatus, details: [] } }, headers);
    }
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"result": {"alternatives": [');
      return;
    case 'hang':
      return writeLines(res, [result({ text: s.part }, 'ALTERNATIVE_STATUS_PARTIAL', { input: 1, output: 1 })], false);
  }
}

export function startYandexMock(): Promise<ProviderMock> {
  return startWireMock(renderYandex);
}
