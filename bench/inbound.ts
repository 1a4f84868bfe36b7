/**
 * What the inbound translation costs (`npm run bench -- --only=inbound`, section h; issue 13): the
 * production pipeline (bench/configs/production.yaml, access log on a pipe, as bench/production.ts
 * starts it) against the same mock OpenAI-style upstream, asked the same thing three ways —
 * `/v1/chat/completions` (no translation: raw chunk text passes through), `/v1/messages`
 * (Anthropic Messages → chat → Anthropic) and `/v1/responses` (OpenAI Responses → chat → Responses).
 * One gateway process serves all three, so the only difference is the dialect's request and answer
 * translation (and the dialect's own request schema).
 *
 * Every body is unique (a new prompt, `temperature: 0`), so the cache misses and stores, as in the
 * production section; streamed requests get the upstream's 20 chunks and the usage chunk. Each round
 * runs non-streamed then streamed saturation against each endpoint in turn, the order rotating per
 * round so that none always runs first. Reported: the median over rounds and the best round, req/s
 * and the gateway process's CPU µs per request (from /proc), and the ratios messages/chat and
 * responses/chat. A benchmark, not a test: nothing is asserted.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, type Child, type Runtime } from './procs.js';
import { summariseProfile } from './profile.js';
import { DIALECTS } from '../core/api/dialects/index.js';
import type { Inbound } from '../core/api/dialects/dialect.js';
import { sseEvents } from '../core/http/sse.js';
import { CHAT_PATH, median } from './load.js';
import { BENCH_KEY } from './plugins.js';
import { saturate, startProductionGateway, type Load } from './production.js';

export const INBOUND_ENDPOINTS = ['chat', 'messages', 'responses'] as const;
export type InboundEndpoint = (typeof INBOUND_ENDPOINTS)[number];
export const INBOUND_PATHS: Record<InboundEndpoint, string> = { chat: CHAT_PATH, messages: '/v1/messages', responses: '/v1/responses' };

const HEADERS = { authorization: `Bearer ${BENCH_KEY}` };
let sequence = 0;
const prompt = () => `Say hello to request ${++sequence} of ${process.pid}.`;

/** A new body per call, for each endpoint, non-streamed or streamed — the same conversation in each API. */
export const INBOUND_BODIES: Record<InboundEndpoint, (stream: boolean) => string> = {
  chat: (stream) =>
    JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt() }], temperature: 0, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) }),
  // max_tokens is required by the Messages API; the chat body gets the same 256 from the `transform` rule.
  messages: (stream) => JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 256, messages: [{ role: 'user', content: prompt() }], temperature: 0, ...(stream ? { stream: true } : {}) }),
  responses: (stream) => JSON.stringify({ model: 'gpt-4o-mini', input: prompt(), temperature: 0, ...(stream ? { stream: true } : {}) }),
};

export interface InboundParams {
  connections: number;
  warmup: number;
  duration: number;
  rounds: number;
}

export interface InboundRound {
  nonStreaming: Record<InboundEndpoint, Load>;
  streaming: Record<InboundEndpoint, Load>;
}

/** In-process cost of one dialect's translation alone, CPU µs (the least disturbed of 5 batches). */
export interface TranslationCost {
  /** Request: `toChat` and the JSON of its messages (`Inbound.messagesText`). */
  request: number;
  /** Non-streamed answer: `fromChat` and its JSON. */
  answer: number;
  /** Streamed answer: the bench upstream's 20 chunks + usage chunk (already parsed) → the dialect's SSE text. */
  stream: number;
}

export interface InboundResults {
  date: string;
  params: InboundParams;
  loadavgBefore: number[];
  loadavgAfter: number[];
  rounds: InboundRound[];
  translation: Record<'anthropic' | 'responses', TranslationCost>;
}

/**
 * The translation alone, in this process, on the answers bench/upstream.ts gives: what a dialect
 * adds to a request before the gateway's other work (and the machine's noise) is counted.
 */
export function measureTranslation(): Record<'anthropic' | 'responses', TranslationCost> {
  const created = 1_700_000_000;
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'gpt-4o-mini', system_fingerprint: 'fp_bench' };
  const chunks: unknown[] = Array.from({ length: 20 }, (_, i) => ({
    ...base,
    choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: '' } : i === 19 ? {} : { content: `tok${i} ` }, logprobs: null, finish_reason: i === 19 ? 'stop' : null }],
  }));
  const usage = { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 };
  chunks.push({ ...base, choices: [], usage });
  const completion = { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, logprobs: null, finish_reason: 'stop' }], usage };
  const requestId = '0b6f4c1e-7d1a-4c52-9a51-2f0d8c3e9b10';
  let sink = 0;
  const cpuUs = (fn: () => void): number => {
    const n = 5000;
    for (let i = 0; i < n; i++) fn();
    let best = Infinity;
    for (let batch = 0; batch < 5; batch++) {
      const before = process.cpuUsage();
      for (let i = 0; i < n; i++) fn();
      const used = process.cpuUsage(before);
      best = Math.min(best, (used.user + used.system) / n);
    }
    return best;
  };
  const measure = (name: 'anthropic' | 'responses', endpoint: InboundEndpoint): TranslationCost => {
    const dialect = DIALECTS[name];
    const body = JSON.parse(INBOUND_BODIES[endpoint](true)) as Record<string, unknown>;
    const { chat, extra } = dialect.toChat(body, 'create');
    const inbound: Inbound = { dialect: name, body, operation: 'create', messagesText: JSON.stringify(chat['messages']), headers: {}, ...(extra ? { extra } : {}) };
    return {
      request: cpuUs(() => (sink += JSON.stringify(dialect.toChat(body, 'create').chat['messages']).length)),
      answer: cpuUs(() => (sink += JSON.stringify(dialect.fromChat(completion, inbound, requestId)).length)),
      stream: cpuUs(() => {
        const translator = dialect.stream(inbound, requestId);
        for (const chunk of chunks) sink += sseEvents(translator.chunk(chunk)).length;
        sink += sseEvents(translator.end()).length;
      }),
    };
  };
  const result = { anthropic: measure('anthropic', 'messages'), responses: measure('responses', 'responses') };
  if (sink === 0) throw new Error('translation produced nothing');
  return result;
}

const post = (base: string, endpoint: InboundEndpoint, stream: boolean) =>
  fetch(`${base}${INBOUND_PATHS[endpoint]}`, { method: 'POST', headers: { 'content-type': 'application/json', ...HEADERS }, body: INBOUND_BODIES[endpoint](stream) });

/** What a correct answer of each endpoint looks like (a wrong answer is fast and would flatter it). */
async function sanityCheck(base: string, endpoint: InboundEndpoint): Promise<void> {
  const plain = await post(base, endpoint, false);
  const json = (await plain.json()) as Record<string, unknown>;
  const streamed = await post(base, endpoint, true);
  const text = await streamed.text();
  const problems: string[] = [];
  if (plain.status !== 200 || streamed.status !== 200) problems.push(`answered ${plain.status} / ${streamed.status}: ${JSON.stringify(json).slice(0, 300)}`);
  if (plain.headers.get('x-switchyard-provider') !== 'up') problems.push('response did not come through the `up` provider');
  if (plain.headers.get('x-switchyard-cache') !== 'MISS') problems.push(`cache header ${plain.headers.get('x-switchyard-cache')}, not MISS`);
  const events = text.split('\n\n');
  const count = (needle: string) => events.filter((e) => e.includes(needle)).length;
  if (endpoint === 'chat') {
    if (!(json['choices'] as { message?: { content?: string } }[] | undefined)?.[0]?.message?.content) problems.push('no chat content');
    if (count('chat.completion.chunk') !== 21 || !text.endsWith('data: [DONE]\n\n')) problems.push(`stream had ${count('chat.completion.chunk')} chunks`);
  } else if (endpoint === 'messages') {
    if (json['type'] !== 'message' || !(json['content'] as { text?: string }[] | undefined)?.[0]?.text) problems.push('no Anthropic message');
    if (count('event: content_block_delta') !== 18 || count('event: message_stop') !== 1 || !/"output_tokens":12/.test(text)) problems.push(`stream had ${count('event: content_block_delta')} deltas`);
  } else {
    if (json['object'] !== 'response' || json['status'] !== 'completed') problems.push('no completed Response');
    if (count('event: response.output_text.delta') !== 18 || count('event: response.completed') !== 1 || !/"output_tokens":12/.test(text)) {
      problems.push(`stream had ${count('event: response.output_text.delta')} deltas`);
    }
  }
  if (problems.length) throw new Error(`${INBOUND_PATHS[endpoint]}: ${problems.join('; ')}`);
}

export async function benchInbound(runtime: Runtime, root: string, params: InboundParams, log: (line: string) => void, loadavg: () => number[]): Promise<InboundResults> {
  const loadavgBefore = loadavg();
  const translation = measureTranslation();
  log(`h) translation alone (µs CPU): ${JSON.stringify(translation, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`);
  const upstreamPort = await freePort();
  const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root);
  let gateway: Child | undefined;
  try {
    gateway = await startProductionGateway(runtime, root, upstreamPort, true);
    for (const endpoint of INBOUND_ENDPOINTS) await sanityCheck(gateway.url, endpoint);
    const { connections, warmup, duration, rounds } = params;
    const show = (r: Load) => `${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req, p99 ${r.p99Ms} ms${r.non2xx || r.errors ? ` (${r.non2xx} non-2xx, ${r.errors} errors)` : ''}`;
    const all: InboundRound[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = INBOUND_ENDPOINTS.map((_, i) => INBOUND_ENDPOINTS[(i + round) % INBOUND_ENDPOINTS.length]!);
      const result = { nonStreaming: {}, streaming: {} } as InboundRound;
      for (const stream of [false, true]) {
        for (const endpoint of order) {
          const body = () => INBOUND_BODIES[endpoint](stream);
          const r = await saturate(gateway, body, connections, round === 0 ? warmup : 0, duration, HEADERS, INBOUND_PATHS[endpoint]);
          (stream ? result.streaming : result.nonStreaming)[endpoint] = r;
          log(`h) round ${round + 1} ${stream ? 'streamed     ' : 'non-streamed '} ${INBOUND_PATHS[endpoint].padEnd(21)} ${show(r)}`);
        }
      }
      all.push(result);
    }
    return { date: new Date().toISOString(), params, loadavgBefore, loadavgAfter: loadavg(), rounds: all, translation };
  } finally {
    await Promise.all([gateway?.stop(), upstream.stop()]);
  }
}

/**
 * `--profile --only=inbound`: the production gateway under `node --cpu-prof`, one process per
 * endpoint and mode, through a warm-up then the measured saturation load; returns the markdown
 * summaries (bench/profile.ts), the measured window's samples only.
 */
export async function profileInbound(runtime: Runtime, root: string, params: Omit<InboundParams, 'rounds'>, log: (line: string) => void): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-inbound-profile-'));
  const upstreamPort = await freePort();
  const upstream = await startChild('upstream', `http://127.0.0.1:${upstreamPort}`, ['--import', 'tsx', 'bench/upstream.ts', String(upstreamPort)], {}, root);
  const sections: string[] = [];
  const nowUs = () => Number(process.hrtime.bigint() / 1000n);
  try {
    for (const stream of [false, true]) {
      for (const endpoint of INBOUND_ENDPOINTS) {
        const name = `${endpoint}-${stream ? 'streamed' : 'non-streamed'}.cpuprofile`;
        const gateway = await startProductionGateway(runtime, root, upstreamPort, true, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}`]);
        let r: Load;
        let window: [number, number];
        try {
          const body = () => INBOUND_BODIES[endpoint](stream);
          if (params.warmup > 0) await saturate(gateway, body, params.connections, 0, params.warmup, HEADERS, INBOUND_PATHS[endpoint]);
          const from = nowUs();
          r = await saturate(gateway, body, params.connections, 0, params.duration, HEADERS, INBOUND_PATHS[endpoint]);
          window = [from, nowUs()];
        } finally {
          await gateway.stop(15_000);
        }
        log(`profile ${INBOUND_PATHS[endpoint]} ${stream ? 'streamed' : 'non-streamed'}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest)} µs CPU/req under the profiler`);
        sections.push(summariseProfile(join(dir, name), root, `${INBOUND_PATHS[endpoint]}, ${stream ? 'streamed (20 chunks + usage)' : 'non-streamed'} (${Math.round(r.cpuUsPerRequest)} µs CPU per request under the profiler)`, r.requests, window));
      }
    }
  } finally {
    await upstream.stop();
  }
  log(`raw profiles in ${dir}`);
  return sections;
}

// ---------------------------------------------------------------------------------------------
// Report

const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const times = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');

interface Spread {
  median: number;
  best: number;
}

export interface InboundSummary {
  /** Per mode and endpoint: req/s and CPU µs per request, median over rounds and best round. */
  rps: Record<'nonStreaming' | 'streaming', Record<InboundEndpoint, Spread>>;
  cpu: Record<'nonStreaming' | 'streaming', Record<InboundEndpoint, Spread>>;
}

export function summariseInbound(r: InboundResults): InboundSummary {
  const spread = (values: number[], better: 'high' | 'low'): Spread => ({ median: median(values), best: better === 'high' ? Math.max(...values) : Math.min(...values) });
  const pick = (mode: 'nonStreaming' | 'streaming', f: (l: Load) => number, better: 'high' | 'low') =>
    Object.fromEntries(INBOUND_ENDPOINTS.map((e) => [e, spread(r.rounds.map((round) => f(round[mode][e])), better)])) as Record<InboundEndpoint, Spread>;
  return {
    rps: { nonStreaming: pick('nonStreaming', (l) => l.rps, 'high'), streaming: pick('streaming', (l) => l.rps, 'high') },
    cpu: { nonStreaming: pick('nonStreaming', (l) => l.cpuUsPerRequest, 'low'), streaming: pick('streaming', (l) => l.cpuUsPerRequest, 'low') },
  };
}

export function renderInboundMarkdown(r: InboundResults): string {
  const s = summariseInbound(r);
  const { connections, warmup, duration, rounds } = r.params;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const lines = [
    '## h) inbound dialects: chat completions vs. Messages vs. Responses, production pipeline',
    '',
    `${r.date} · ${connections} connections, ${warmup} s warm-up, ${rounds} rounds × ${duration} s per endpoint and mode (the order rotates per round) · ` +
      `one production gateway (bench/configs/production.yaml, access log on a pipe) · load average before ${load(r.loadavgBefore)}, after ${load(r.loadavgAfter)}`,
    '',
    'Cells: median over rounds / best round. CPU is the gateway process\'s own (user + system, /proc) per 2xx response.',
    '',
    '| measure | /v1/chat/completions | /v1/messages | /v1/responses | messages / chat | responses / chat |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  const row = (name: string, m: Record<InboundEndpoint, Spread>) => {
    const ratio = (e: InboundEndpoint) => `${times(m[e].median / m.chat.median)} / ${times(m[e].best / m.chat.best)}`;
    lines.push(`| ${name} | ${INBOUND_ENDPOINTS.map((e) => `${num(m[e].median)} / ${num(m[e].best)}`).join(' | ')} | ${ratio('messages')} | ${ratio('responses')} |`);
  };
  row('non-streamed req/s', s.rps.nonStreaming);
  row('non-streamed CPU µs/request', s.cpu.nonStreaming);
  row('streamed req/s (20 chunks + usage)', s.rps.streaming);
  row('streamed CPU µs/request', s.cpu.streaming);
  const t = r.translation;
  lines.push(
    '',
    'The translation alone, in-process (`measureTranslation`: CPU µs, least disturbed of 5 batches, on the bench upstream\'s answers; chunks already parsed, as the `cache` plugin parses them on every path):',
    '',
    '| dialect | request → chat (+ messages JSON) | non-streamed answer → JSON | streamed answer (20 chunks + usage) → SSE text |',
    '| --- | ---: | ---: | ---: |',
    `| Messages | ${t.anthropic.request.toFixed(1)} | ${t.anthropic.answer.toFixed(1)} | ${t.anthropic.stream.toFixed(1)} |`,
    `| Responses | ${t.responses.request.toFixed(1)} | ${t.responses.answer.toFixed(1)} | ${t.responses.stream.toFixed(1)} |`,
  );
  const problems = r.rounds.flatMap((x, i) =>
    INBOUND_ENDPOINTS.flatMap((e) =>
      (
        [
          ['non-streamed', x.nonStreaming[e]],
          ['streamed', x.streaming[e]],
        ] as const
      )
        .filter(([, l]) => l.non2xx || l.errors)
        .map(([label, l]) => `round ${i + 1} ${label} ${INBOUND_PATHS[e]}: ${l.non2xx} non-2xx, ${l.errors} errors`),
    ),
  );
  if (problems.length) lines.push('', `Failures during the run (these make the numbers suspect): ${problems.join('; ')}.`);
  lines.push('');
  return lines.join('\n');
}
