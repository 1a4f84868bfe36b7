/**
 * The client endpoints of stored responses (https://platform.openai.com/docs/api-reference/responses):
 *
 *   GET    /v1/responses/{id}               the Response object
 *   GET    /v1/responses/{id}/input_items   this turn's input items (`limit`, `order`, `after`)
 *   DELETE /v1/responses/{id}               `{ id, object: 'response', deleted: true }`
 *
 * Only the caller's organization's unexpired responses exist here; any other id is a 404
 * `response_not_found`, the same whether it exists elsewhere or not.
 */
import { errors, type GatewayError } from '../../core/errors.js';
import type { Context } from '../../core/context.js';
import type { ResponseStore } from './store.js';

/** The organization of requests made without `auth` in the pipeline: they all share one. */
export const ANONYMOUS_ORG = '';

/** The organization whose responses a request sees. */
export function orgOf(ctx: Context): string {
  return ctx.auth?.orgId ?? ANONYMOUS_ORG;
}

/** The 404 for a response id the caller's organization has not (or no longer) stored. */
export function responseNotFound(id: string, param: string | null): GatewayError {
  return errors.notFound('response_not_found', `Response with id '${id.slice(0, 200)}' not found.`, param);
}

const INPUT_ITEMS = '/input_items';

/** Answers a `responses.*` endpoint (`ctx.endpoint === 'plugin'`) by setting `ctx.response`. */
export async function serveEndpoint(ctx: Context, store: ResponseStore): Promise<void> {
  const { name, param = '' } = ctx.pluginRoute!;
  const orgId = orgOf(ctx);
  if (name === 'responses.delete') {
    if (!(await store.remove(orgId, param))) throw responseNotFound(param, null);
    ctx.response = { status: 200, headers: {}, body: { id: param, object: 'response', deleted: true } };
    return;
  }
  // `{id}` takes the rest of the path: `resp_1/input_items` is the input items of `resp_1`.
  const listing = param.endsWith(INPUT_ITEMS);
  const id = listing ? param.slice(0, -INPUT_ITEMS.length) : param;
  const stored = await store.load(orgId, id);
  if (!stored) throw responseNotFound(id, null);
  ctx.response = { status: 200, headers: {}, body: listing ? itemList(stored.input, new URLSearchParams(ctx.search)) : stored.response };
}

/** A page of input items, as OpenAI lists them: newest first by default. */
function itemList(items: readonly Record<string, unknown>[], query: URLSearchParams): unknown {
  const limitText = query.get('limit') ?? '20';
  const limit = /^\d+$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= 100)) throw errors.badRequest('invalid_request_parameter', "Invalid 'limit': must be an integer from 1 to 100.", 'limit');
  const order = query.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw errors.badRequest('invalid_request_parameter', "Invalid 'order': must be 'asc' or 'desc'.", 'order');
  const ordered = order === 'asc' ? items : [...items].reverse();
  const after = query.get('after');
  const start = after === null ? 0 : ordered.findIndex((item) => item['id'] === after) + 1;
  if (after !== null && start === 0) throw errors.badRequest('invalid_request_parameter', `Invalid 'after': no input item '${after.slice(0, 200)}' in this response.`, 'after');
  const data = ordered.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: (data[0]?.['id'] as string | undefined) ?? null,
    last_id: (data[data.length - 1]?.['id'] as string | undefined) ?? null,
    has_more: start + limit < ordered.length,
  };
}
