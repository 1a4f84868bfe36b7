/**
 * A loopback Gemini API for tests, answering from the fixtures in `test/fixtures/gemini/` (each
 * names the API reference page it follows): `generateContent` JSON, `streamGenerateContent?alt=sse`
 * events (`data: {...}\r\n\r\n`, no end marker), Google error envelopes, `embedContent` /
 * `batchEmbedContents` and image responses. The official `@google/genai` SDK parses what this
 * mock sends (test/adapters/gemini.sdk.test.ts), which is what makes it a faithful stand-in.
 */
import type { ServerResponse } from 'node:http';
import type { ProviderMock, RecordedCall, Scenario, Usage } from './conformance.js';
import { readFixture, startWireMock, writeJson } from './wire-mock.js';

/** A fixture without its `_source` note. */
export const geminiFixture = <T extends object = Record<string, unknown>>(name: string): T => readFixture<T>('gemini', name);

/** The signature the mock puts on the first function call of an answer (as Gemini 3 does). */
export const MOCK_SIGNATURE = (geminiFixture<{ candidates: { content: { parts: { thoughtSignature?: string }[] } }[] }>('generate-content-function-call').candidates[0]!.content.parts[0]!.thoughtSignature)!;

const errorFixtures = geminiFixture<{ status_names: Record<string, string> }>('errors');
const template = geminiFixture<{ modelVersion: string }>('generate-content');

function usageMetadata(u: Usage, final = true): Record<string, number> {
  return final ? { promptTokenCount: u.input, candidatesTokenCount: u.output, totalTokenCount: u.input + u.output } : { promptTokenCount: u.input, totalTokenCount: u.input };
}

function answer(parts: unknown[], finishReason: string | undefined, usage: Usage, final = true, responseId = 'mock-response'): Record<string, unknown> {
  const candidate: Record<string, unknown> = { content: { parts, role: 'model' }, index: 0 };
  if (finishReason) candidate['finishReason'] = finishReason;
  return { candidates: [candidate], usageMetadata: usageMetadata(usage, final), modelVersion: template.modelVersion, responseId };
}

/** Google answers JSON with an explicit charset. */
const json = (res: ServerResponse, status: number, body: unknown): void => writeJson(res, status, body, { 'content-type': 'application/json; charset=UTF-8' });

function sse(res: ServerResponse, events: unknown[], end = true): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(`data: ${JSON.stringify(e)}\r\n\r\n`);
  if (end) res.end();
}

/** A deterministic vector for `text` (the mock's stand-in for a real embedding). */
export function mockVector(text: string, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) => Math.round(Math.sin(text.length * 7 + i + (text.charCodeAt(i % Math.max(1, text.length)) || 0)) * 1e4) / 1e4);
}

function callParts(calls: { name: string; arguments: string }[]): unknown[] {
  return calls.map((c, i) => ({ functionCall: { name: c.name, args: JSON.parse(c.arguments) as unknown }, ...(i === 0 ? { thoughtSignature: MOCK_SIGNATURE } : {}) }));
}

export function renderGemini(s: Scenario, call: RecordedCall, res: ServerResponse): void {
  const url = call.url;
  const body = call.body ?? {};
  if (url.includes(':batchEmbedContents')) {
    const requests = (body['requests'] ?? []) as { content: { parts: { text: string }[] }; outputDimensionality?: number }[];
    return json(res, 200, { embeddings: requests.map((r) => ({ values: mockVector(r.content.parts[0]!.text, r.outputDimensionality ?? 4) })) });
  }
  if (url.includes(':embedContent')) {
    const r = body as { content: { parts: { text: string }[] }; outputDimensionality?: number };
    return json(res, 200, { embedding: { values: mockVector(r.content.parts[0]!.text, r.outputDimensionality ?? 4) } });
  }
  const modalities = (body['generationConfig'] as { responseModalities?: string[] } | undefined)?.responseModalities;
  // A normal answer to an image request is the image fixture.
  if (modalities?.includes('IMAGE') && s.kind === 'text') return json(res, 200, geminiFixture('image-generate-content'));

  switch (s.kind) {
    case 'text':
      return json(res, 200, answer([{ text: s.text }], s.finish === 'length' ? 'MAX_TOKENS' : 'STOP', s.usage));
    case 'stream':
      return sse(res, s.parts.map((p, i) => (i === s.parts.length - 1 ? answer([{ text: p }], 'STOP', s.usage) : answer([{ text: p }], undefined, s.usage, false))));
    case 'tools':
      if (!s.stream) return json(res, 200, answer(callParts(s.calls), 'STOP', s.usage));
      // A function call arrives whole in one event; the last event carries the finish reason.
      return sse(res, [...callParts(s.calls).map((p) => answer([p], undefined, s.usage, false)), answer([{ text: '' }], 'STOP', s.usage)]);
    case 'error': {
      const details = s.retryAfter ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${s.retryAfter}s` }] : undefined;
      const error = { code: s.status, message: s.message, status: errorFixtures.status_names[String(s.status)] ?? 'UNKNOWN', ...(details ? { details } : {}) };
      return json(res, s.status, { error });
    }
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"candidates": [{"content": ');
      return;
    case 'hang':
      return sse(res, [answer([{ text: s.part }], undefined, { input: 1, output: 0 }, false)], false);
  }
}

/** The mock serves under `/v1beta`, the path the official SDK and the adapter's default use. */
export function startGeminiMock(): Promise<ProviderMock> {
  return startWireMock(renderGemini, '/v1beta');
}
