/**
 * A prompt's tokens counted by the provider itself (`HttpAdapter.countTokens`, Anthropic's
 * `POST /v1/messages/count_tokens`): one call through the shared upstream client, with the
 * provider's timeouts and the request's abort signal. Used by `route` for
 * `POST /v1/messages/count_tokens` when the model's target can count; other targets are estimated.
 */
import { GatewayError, errors } from '../../core/errors.js';
import { ClientGoneError, upstreamFailure, type UpstreamClient } from '../../core/http/upstream.js';
import type { Context } from '../../core/context.js';
import type { HttpAdapter, Operation, TokenCountEndpoint } from './adapter.js';
import type { Provider } from './resolve.js';
import { tryParseJson } from './upstream-errors.js';

/** The longest error body read from the provider. */
const MAX_ERROR_BODY = 64 * 1024;

/** The adapter of `provider` when it counts tokens itself. */
export function tokenCounting(provider: Provider | undefined): (HttpAdapter & { countTokens: TokenCountEndpoint }) | undefined {
  const adapter = provider?.adapter;
  return adapter?.kind === 'http' && adapter.countTokens !== undefined ? (adapter as HttpAdapter & { countTokens: TokenCountEndpoint }) : undefined;
}

/** Asks `provider` for the token count of the request's prompt (`ctx.body`, sent as `model`). Throws the GatewayError of a failed call. */
export async function providerTokenCount(ctx: Context, provider: Provider, adapter: HttpAdapter & { countTokens: TokenCountEndpoint }, model: string, upstream: UpstreamClient): Promise<number> {
  const op: Operation = {
    endpoint: 'chat.completions',
    body: { ...ctx.body, model },
    model,
    stream: false,
    clientWantsUsage: false,
    requestId: ctx.id,
    headers: ctx.upstreamHeaders,
    ...(ctx.inbound ? { inbound: ctx.inbound } : {}),
  };
  const res = await upstream.send(await adapter.countTokens.request(op), ctx.signal, adapter.timeouts, provider.name);
  try {
    const text = await res.body.text();
    if (res.status < 200 || res.status >= 300) throw adapter.parseError(res.status, text.slice(0, MAX_ERROR_BODY), res.headers);
    const json = tryParseJson(text);
    if (json === undefined) throw errors.badGateway('upstream_invalid_response', `${provider.name}: the token count is not valid JSON.`);
    return adapter.countTokens.parse(json);
  } catch (err) {
    res.body.destroy();
    throw err instanceof GatewayError || err instanceof ClientGoneError ? err : upstreamFailure(err, provider.name, 'body');
  } finally {
    res.release();
  }
}
