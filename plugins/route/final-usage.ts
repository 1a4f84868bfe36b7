/**
 * The usage of a stream once it is over, exactly once: what the provider reported when the stream
 * completed; when it was cut (client gone, upstream broke, timeout) or the provider reported
 * nothing, the tokens delivered so far counted with a tokenizer (o200k, in a worker thread) and
 * the prompt as reported, else counted too — marked `estimated`. Never the whole reservation for a
 * cancelled stream, never zero for one that delivered text.
 */
import { Worker } from 'node:worker_threads';
import { RawChunk, type Usage } from '../../core/context.js';
import type { Operation } from './adapter.js';

/** Characters per token when the tokenizer cannot be used (the worker failed): a rough, documented fallback. */
const CHARS_PER_TOKEN = 4;
const roughly = (texts: string[]): number[] => texts.map((t) => Math.ceil(t.length / CHARS_PER_TOKEN));

/**
 * Counts tokens in a worker thread: loading the tokenizer's tables takes about half a second of
 * parsing, which on the main thread would stall every request in flight. `route`'s process state:
 * the worker starts with the first stream (so it is ready when one is cut), lives as long as the
 * process and keeps it alive only while a count is pending.
 */
export class TokenCounter {
  private worker: Worker | undefined;
  private nextCall = 0;
  private readonly pending = new Map<number, { resolve(counts: number[]): void; texts: string[] }>();

  /** Starts loading the tokenizer, if it is not loading or loaded already. */
  warm(): Worker {
    if (this.worker) return this.worker;
    const tokenizer = import.meta.resolve('gpt-tokenizer/encoding/o200k_base');
    const started = new Worker(
      `const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(tokenizer)}).then((m) => parentPort.on('message', ({ id, texts }) => parentPort.postMessage({ id, counts: texts.map((t) => (t ? m.countTokens(t) : 0)) })));`,
      { eval: true },
    );
    started.on('message', ({ id, counts }: { id: number; counts: number[] }) => {
      this.pending.get(id)?.resolve(counts);
      this.pending.delete(id);
      if (this.pending.size === 0) started.unref();
    });
    started.on('error', () => {
      // Counted roughly from here on; a new worker is tried on the next need.
      for (const call of this.pending.values()) call.resolve(roughly(call.texts));
      this.pending.clear();
      this.worker = undefined;
    });
    // Unref'd after the listeners (adding one refs the port again): the worker keeps the process
    // alive only while a count is pending.
    started.unref();
    this.worker = started;
    return started;
  }

  /** Token counts of `texts`, from the worker (queued there until the tokenizer has loaded). */
  count(texts: string[]): Promise<number[]> {
    const id = this.nextCall++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, texts });
      const counting = this.warm();
      counting.ref();
      counting.postMessage({ id, texts });
    });
  }

  /** At shutdown, once every request settled: pending counts are answered roughly, the worker stops. */
  async close(): Promise<void> {
    for (const call of this.pending.values()) call.resolve(roughly(call.texts));
    this.pending.clear();
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}

/**
 * Collects the text a stream delivered (content, reasoning, tool-call arguments) for counting. The
 * first stream starts loading the tokenizer, so that a stream cut later is settled without waiting
 * for it.
 */
export class DeliveredText {
  /** Text parts; those taken from a `RawChunk` are still JSON-escaped (see `escaped`). */
  private readonly parts: string[] = [];
  /** Indexes into `parts` of JSON-escaped string bodies, decoded only if the stream needs counting. */
  private readonly escaped: number[] = [];

  constructor(readonly counter: TokenCounter) {
    counter.warm();
  }

  /** Takes one OpenAI chunk (`chat.completion.chunk` or `text_completion`), object or `RawChunk`. */
  add(chunk: unknown): void {
    if (chunk instanceof RawChunk) return this.addText(chunk.text);
    const choices = (chunk as { choices?: unknown } | null)?.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices as { delta?: Record<string, unknown>; text?: unknown }[]) {
      if (typeof choice?.text === 'string') this.parts.push(choice.text);
      const delta = choice?.delta;
      if (!delta) continue;
      if (typeof delta['content'] === 'string') this.parts.push(delta['content']);
      if (typeof delta['reasoning_content'] === 'string') this.parts.push(delta['reasoning_content']);
      const calls = delta['tool_calls'];
      if (Array.isArray(calls)) {
        for (const call of calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
          if (typeof call?.function?.name === 'string') this.parts.push(call.function.name);
          if (typeof call?.function?.arguments === 'string') this.parts.push(call.function.arguments);
        }
      }
    }
  }

  /**
   * The same text fields read from a chunk's JSON text without parsing it: each string value of
   * `content`, `reasoning_content`, `text`, `name` or `arguments` (in an OpenAI chunk these hold
   * only delivered text), kept escaped. Quotes inside strings are escaped in JSON, so a key pattern
   * cannot match inside a value.
   */
  private addText(json: string): void {
    TEXT_FIELD.lastIndex = 0;
    let match: RegExpExecArray | null;
    while ((match = TEXT_FIELD.exec(json)) !== null) {
      const from = TEXT_FIELD.lastIndex;
      let i = from;
      while (i < json.length && json.charCodeAt(i) !== 0x22) i += json.charCodeAt(i) === 0x5c ? 2 : 1;
      if (i > from) {
        this.escaped.push(this.parts.length);
        this.parts.push(json.slice(from, i));
      }
      TEXT_FIELD.lastIndex = i + 1;
    }
  }

  text(): string {
    for (const index of this.escaped) {
      try {
        this.parts[index] = JSON.parse(`"${this.parts[index]!}"`) as string;
      } catch {
        // A malformed escape: counted as it stands.
      }
    }
    this.escaped.length = 0;
    return this.parts.join('');
  }
}

/** A text field's key and the opening quote of its string value. */
const TEXT_FIELD = /"(?:content|reasoning_content|text|name|arguments)"\s*:\s*"/g;

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
export function finalStreamUsage(reported: Usage | undefined, completed: boolean, delivered: DeliveredText, op: Operation): Usage | Promise<Usage> {
  // A completed stream's reported usage is final at once: no promise, so it is on the context
  // before the stream's end goes out.
  if (completed && reported) return reported;
  return countedUsage(reported, delivered, op);
}

async function countedUsage(reported: Usage | undefined, delivered: DeliveredText, op: Operation): Promise<Usage> {
  const [promptCount, deliveredCount] = await delivered.counter.count([reported?.prompt_tokens ? '' : promptText(op), delivered.text()]);
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
