/**
 * Turns the chunks of a streamed answer back into the one non-streamed response the cache stores:
 * a `chat.completion` (content, refusal, tool calls, finish reason, usage) or a `text_completion`.
 * Chunks are read as they pass; nothing is held back from the client.
 */
import type { Usage } from '../../core/context.js';

type Json = Record<string, unknown>;

interface ToolCallParts {
  id?: string;
  type: string;
  name: string;
  arguments: string;
}

interface ChoiceParts {
  role: string;
  content: string;
  hasContent: boolean;
  refusal: string | undefined;
  toolCalls: ToolCallParts[];
  finishReason: string | null;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class StreamAssembly {
  private readonly choices = new Map<number, ChoiceParts>();
  private head: { id?: unknown; created?: unknown; model?: unknown; system_fingerprint?: unknown } = {};
  private usage: unknown;
  /** A whole response that arrived as one chunk (an upstream that ignored `stream`). */
  private whole: Json | undefined;
  private kind: 'chat' | 'text' | undefined;
  /** Characters of text collected so far, to stop collecting past the entry bound. */
  private size = 0;
  private overflowed = false;

  constructor(private readonly maxChars: number) {}

  add(chunk: unknown): void {
    if (this.overflowed || !isObject(chunk)) return;
    // A text completion's chunks and its whole answer share one shape, so only chat can arrive whole.
    if (chunk['object'] === 'chat.completion') {
      this.whole = chunk;
      return;
    }
    this.kind ??= chunk['object'] === 'text_completion' ? 'text' : 'chat';
    for (const field of ['id', 'created', 'model', 'system_fingerprint'] as const) if (this.head[field] === undefined && chunk[field] !== undefined) this.head[field] = chunk[field];
    if (isObject(chunk['usage'])) this.usage = chunk['usage'];
    const choices = chunk['choices'];
    if (!Array.isArray(choices)) return;
    for (const c of choices) if (isObject(c)) this.addChoice(c);
    if (this.size > this.maxChars) this.overflowed = true;
  }

  /**
   * The assembled response, or undefined when the stream is not worth storing: too large, not
   * finished (a choice without a finish reason), or empty. `reportedUsage` fills in usage the
   * chunks did not carry (the client did not ask for the usage chunk).
   */
  result(reportedUsage: Usage | undefined): Json | undefined {
    if (this.overflowed) return undefined;
    if (this.whole) return this.whole;
    if (this.choices.size === 0) return undefined;
    const ordered = [...this.choices.entries()].sort((a, b) => a[0] - b[0]);
    if (ordered.some(([, c]) => c.finishReason === null)) return undefined;
    const usage = this.usage ?? reportedUsage;
    const head = { id: this.head.id, object: this.kind === 'text' ? 'text_completion' : 'chat.completion', created: this.head.created, model: this.head.model };
    const fingerprint = this.head.system_fingerprint !== undefined ? { system_fingerprint: this.head.system_fingerprint } : {};
    if (this.kind === 'text') {
      return { ...head, choices: ordered.map(([index, c]) => ({ index, text: c.content, logprobs: null, finish_reason: c.finishReason })), ...(usage ? { usage } : {}) };
    }
    return {
      ...head,
      ...fingerprint,
      choices: ordered.map(([index, c]) => ({ index, message: chatMessage(c), logprobs: null, finish_reason: c.finishReason })),
      ...(usage ? { usage } : {}),
    };
  }

  private addChoice(c: Json): void {
    const index = typeof c['index'] === 'number' ? c['index'] : 0;
    let parts = this.choices.get(index);
    if (!parts) {
      parts = { role: 'assistant', content: '', hasContent: false, refusal: undefined, toolCalls: [], finishReason: null };
      this.choices.set(index, parts);
    }
    if (typeof c['finish_reason'] === 'string') parts.finishReason = c['finish_reason'];
    if (typeof c['text'] === 'string') {
      parts.content += c['text'];
      parts.hasContent = true;
      this.size += c['text'].length;
    }
    const delta = c['delta'];
    if (!isObject(delta)) return;
    if (typeof delta['role'] === 'string') parts.role = delta['role'];
    if (typeof delta['content'] === 'string') {
      parts.content += delta['content'];
      parts.hasContent = true;
      this.size += delta['content'].length;
    }
    if (typeof delta['refusal'] === 'string') parts.refusal = (parts.refusal ?? '') + delta['refusal'];
    if (Array.isArray(delta['tool_calls'])) for (const call of delta['tool_calls']) if (isObject(call)) this.addToolCall(parts, call);
  }

  private addToolCall(parts: ChoiceParts, call: Json): void {
    const at = typeof call['index'] === 'number' ? call['index'] : parts.toolCalls.length;
    const existing = (parts.toolCalls[at] ??= { type: 'function', name: '', arguments: '' });
    if (typeof call['id'] === 'string') existing.id = call['id'];
    if (typeof call['type'] === 'string') existing.type = call['type'];
    const fn = call['function'];
    if (isObject(fn)) {
      if (typeof fn['name'] === 'string') existing.name += fn['name'];
      if (typeof fn['arguments'] === 'string') {
        existing.arguments += fn['arguments'];
        this.size += fn['arguments'].length;
      }
    }
  }
}

function chatMessage(c: ChoiceParts): Json {
  const message: Json = { role: c.role, content: c.hasContent || c.toolCalls.length === 0 ? c.content : null, refusal: c.refusal ?? null };
  const calls = c.toolCalls.filter(Boolean);
  if (calls.length) message['tool_calls'] = calls.map((t) => ({ id: t.id, type: t.type, function: { name: t.name, arguments: t.arguments } }));
  return message;
}
