/**
 * Server-sent events. In: `eventsource-parser` over any byte stream. Out: the SSE framing the core
 * writes for OpenAI-style chunk streams.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type { EventSourceMessage };

/** Yields each event of an SSE byte stream as soon as its terminating blank line arrives. */
export async function* readSSE(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => queue.push(e) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (queue.length) yield queue.shift()!;
  }
  parser.feed(decoder.decode());
  parser.feed('\n\n');
  while (queue.length) yield queue.shift()!;
}

/**
 * Yields each non-empty line of a newline-delimited JSON stream as an event (`data` = the line),
 * so NDJSON providers share the SSE translation path.
 */
export async function* readJsonLines(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield { event: undefined, id: undefined, data: line };
    }
  }
  const rest = (buffered + decoder.decode()).trim();
  if (rest) yield { event: undefined, id: undefined, data: rest };
}

/** One `data:` event carrying a JSON value. */
export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

/** Named events (`event:` + JSON `data:`), as the Anthropic and Responses APIs stream them. */
export function sseEvents(events: readonly { event?: string; data: unknown }[]): string {
  let text = '';
  for (const e of events) text += e.event === undefined ? `data: ${JSON.stringify(e.data)}\n\n` : `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
  return text;
}

export const SSE_DONE = 'data: [DONE]\n\n';
