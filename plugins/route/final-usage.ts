/**
 * The usage of a stream once it is over, exactly once: what the provider reported when the stream
 * completed; when it was cut (client gone, upstream broke, timeout) or the provider reported
 * nothing, the tokens delivered so far counted with a tokenizer (o200k, in a worker thread) and
 * the prompt as reported, else counted too — marked `estimated`. Never the whole reservation for a
 * cancelled stream, never zero for one that delivered text.
 */
import { Worker } from 'node:worker_threads';
import type { Usage } from '../../core/context.js';
import type { Operation } from './adapter.js';

/**
 * Token counting runs in a worker thread: loading the tokenizer's tables takes about half a second
 * of parsing, which on the main thread would stall every request in flight. The worker starts with
 * the first stream (so it is ready when one is cut) and stays for the life of the process.
 */
let worker: Worker | undefined;
let nextCall = 0;
const pending = new Map<number, { resolve(counts: number[]): void; texts: string[] }>();

/** Characters per token when the tokenizer cannot be used (the worker failed): a rough, documented fallback. */
const CHARS_PER_TOKEN = 4;
const roughly = (texts: string[]): number[] => texts.map((t) => Math.ceil(t.length / CHARS_PER_TOKEN));

function startCounting(): Worker {
  if (worker) return worker;
  const tokenizer = import.meta.resolve('gpt-tokenizer/encoding/o200k_base');
  const started = new Worker(
    `const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(tokenizer)}).then((m) => parentPort.on('message', ({ id, texts }) => parentPort.postMessage({ id, counts: texts.map((t) => (t ? m.countTokens(t) : 0)) })));`,
    { eval: true },
  );
  started.on('message', ({ id, counts }: { id: number; counts: number[] }) => {
    pending.get(id)?.resolve(counts);
    pending.delete(id);
    if (pending.size === 0) started.unref();
  });
  started.on('error', () => {
    // Counted roughly from here on; a new worker is tried on the next need.
    for (const call of pending.values()) call.resolve(roughly(call.texts));
    pending.clear();
    worker = undefined;
  });
  // Unref'd after the listeners (adding one refs the port again): the worker keeps the process alive
  // only while a count is pending.
  started.unref();
  worker = started;
  return started;
}

/** Token counts of `texts`, from the worker (queued there until the tokenizer has loaded). */
function countTokens(texts: string[]): Promise<number[]> {
  const id = nextCall++;
  return new Promise((resolve) => {
    pending.set(id, { resolve, texts });
    const counting = startCounting();
    counting.ref();
    counting.postMessage({ id, texts });
  });
}

/**
 * Collects the text a stream delivered (content, reasoning, tool-call arguments) for counting. The
 * first stream starts loading the tokenizer, so that a stream cut later is settled without waiting
 * for it.
 */
export class DeliveredText {
  private readonly parts: string[] = [];

  constructor() {
    if (worker === undefined) startCounting();
  }

  /** Takes one OpenAI chunk (`chat.completion.chunk` or `text_completion`). */
  add(chunk: unknown): void {
    const choices = (chunk as { choices?: unknown } | null)?.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices as { delta?: Record<string, unknown>; text?: unknown }[]) {
      if (typeof choice.text === 'string') this.parts.push(choice.text);
      const delta = choice.delta;
      if (!delta) continue;
      if (typeof delta['content'] === 'string') this.parts.push(delta['content']);
      if (typeof delta['reasoning_content'] === 'string') this.parts.push(delta['reasoning_content']);
      const calls = delta['tool_calls'];
      if (Array.isArray(calls)) {
        for (const call of calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
          if (typeof call.function?.name === 'string') this.parts.push(call.function.name);
          if (typeof call.function?.arguments === 'string') this.parts.push(call.function.arguments);
        }
      }
    }
  }

  text(): string {
    return this.parts.join('');
  }
}

/** The text of a request's prompt: messages' text content (and tool-call arguments), or `prompt`. */
export function promptText(op: Operation): string {
  const body = op.body;
  if (typeof body['prompt'] === 'string') return body['prompt'];
  if (Array.isArray(body['prompt'])) return body['prompt'].filter((p): p is string => typeof p === 'string').join('\n');
  const messages = body['messages'];
  if (!Array.isArray(messages)) return '';
  const parts: string[] = [];
  for (const message of messages as { content?: unknown; tool_calls?: { function?: { arguments?: unknown } }[] }[]) {
    const content = message?.content;
    if (typeof content === 'string') parts.push(content);
    else if (Array.isArray(content)) for (const part of content as { text?: unknown }[]) if (typeof part?.text === 'string') parts.push(part.text);
    if (Array.isArray(message?.tool_calls)) for (const call of message.tool_calls) if (typeof call?.function?.arguments === 'string') parts.push(call.function.arguments);
  }
  return parts.join('\n');
}

/**
 * The final usage of a stream. `reported` is what the provider sent (possibly partial, e.g. the
 * prompt tokens of a stream's first event); `completed` whether the stream reached its end.
 */
export async function finalStreamUsage(reported: Usage | undefined, completed: boolean, delivered: DeliveredText, op: Operation): Promise<Usage | undefined> {
  if (completed && reported) return reported;
  const [promptCount, deliveredCount] = await countTokens([reported?.prompt_tokens ? '' : promptText(op), delivered.text()]);
  const prompt = reported?.prompt_tokens || promptCount!;
  const completion = Math.max(reported?.completion_tokens ?? 0, deliveredCount!);
  return {
    ...reported,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    estimated: true,
  };
}
