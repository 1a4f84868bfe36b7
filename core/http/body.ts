/**
 * Reading and parsing request bodies: size limit (413), content type (415), strict UTF-8 (400),
 * JSON without prototype-pollution keys (400), an object at the top (400), and bounded nesting (400).
 */
import type { IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { ClientGoneError } from './upstream.js';
import sjson from 'secure-json-parse';
import { GatewayError, errors } from '../errors.js';

export function tooLarge(limit: number): GatewayError {
  return new GatewayError(413, 'invalid_request_error', 'request_too_large', `Request body is larger than the gateway's limit of ${limit} bytes.`);
}

/** Rejects early from `content-length`, else counts bytes as they arrive. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(tooLarge(limit));
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new ClientGoneError());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}


/** Parses a JSON request body into an object, or throws the 4xx that says what is wrong. */
export function parseJsonBody(contentType: string | undefined, raw: Buffer): Record<string, unknown> {
  if (contentType !== undefined && !isJson(contentType)) {
    throw new GatewayError(415, 'invalid_request_error', 'unsupported_media_type', `Content-Type must be application/json, not '${contentType.slice(0, 100)}'.`);
  }
  if (raw.length === 0) throw errors.badRequest('invalid_json', 'The request body is empty; send a JSON object.');
  if (!isUtf8(raw)) throw errors.badRequest('invalid_encoding', 'The request body is not valid UTF-8.');
  const text = raw.toString('utf8');
  let value: unknown;
  try {
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    const message = (err as Error).message;
    if (/prototype/i.test(message)) throw errors.badRequest('invalid_json', 'The request body contains a forbidden key (__proto__ or constructor.prototype).');
    throw errors.badRequest('invalid_json', `The request body is not valid JSON: ${message.slice(0, 200)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw errors.badRequest('invalid_json', 'The request body must be a JSON object.');
  }
  if (deeperThan(value, MAX_DEPTH)) throw errors.badRequest('invalid_json', `The request body is nested deeper than ${MAX_DEPTH} levels.`);
  return value as Record<string, unknown>;
}

/**
 * JSON.parse copes with any nesting, but re-serialising the body for a provider (JSON.stringify is
 * recursive) overflows the stack at a few thousand levels — a 20 KB body could turn into a 500.
 * Real requests (tool schemas, structured outputs) stay far below this.
 */
const MAX_DEPTH = 128;

/** Iterative, so the check itself cannot overflow the stack. */
function deeperThan(root: object, max: number): boolean {
  const stack: [object, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Object.values(value)) if (child !== null && typeof child === 'object') stack.push([child as object, depth + 1]);
  }
  return false;
}

function isJson(contentType: string): boolean {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
