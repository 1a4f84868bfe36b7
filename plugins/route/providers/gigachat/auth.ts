/**
 * GigaChat access tokens: OAuth 2.0 client credentials
 * (https://developers.sber.ru/docs/ru/gigachat/api/reference/rest/post-token). The authorization
 * key (base64 of `client_id:client_secret`) goes as `Authorization: Basic …` to `POST {auth_url}`
 * with a fresh UUID v4 in `RqUID` and `scope=…` as a form body; the answer is
 * `{access_token, expires_at}`, a token valid for 30 minutes. One token serves every request of the
 * provider until shortly before it expires; requests that need a token while one is being fetched
 * wait for that fetch instead of starting their own (the token endpoint allows 10 calls a second).
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../../../../core/errors.js';
import type { UpstreamClient, UpstreamTimeouts } from '../../../../core/http/upstream.js';
import type { Logger } from '../../../../core/log.js';
import { redactSecret, tryParseJson } from '../../upstream-errors.js';

/** What a TokenSource needs to ask for tokens. */
export interface TokenSourceOptions {
  provider: string;
  authUrl: string;
  /** The base64 authorization key. */
  authorizationKey: string;
  scope: string;
  /** A token is renewed this long before it expires. */
  marginMs: number;
  upstream: UpstreamClient;
  timeouts: UpstreamTimeouts;
  log: Logger;
  /** Further secrets to keep out of messages (the client secret the key was built from). */
  secrets: readonly string[];
}

interface Token {
  value: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/**
 * `expires_at` is documented as epoch milliseconds by the SDKs and the API answers so, but the
 * reference's example shows seconds; a value below 10^12 (September 2001 in ms) can only be seconds.
 */
function epochMs(value: number): number {
  return value < 1e12 ? value * 1000 : value;
}

/** The access token of one provider: cached, fetched once at a time, renewed on demand. */
export class TokenSource {
  private token: Token | undefined;
  private inflight: Promise<string> | undefined;
  /** The token fetch outlives any one client request, so it never follows a client's abort. */
  private readonly signal = new AbortController().signal;

  constructor(private readonly opts: TokenSourceOptions) {}

  /** A valid access token: the cached one, the one being fetched, or a new one. */
  get(): Promise<string> {
    if (this.token && Date.now() < this.token.expiresAt - this.opts.marginMs) return Promise.resolve(this.token.value);
    return (this.inflight ??= this.fetch().finally(() => (this.inflight = undefined)));
  }

  /**
   * The API refused the token (401): forget it and fetch another. A fetch already under way is
   * joined instead, so a burst of 401s costs one new token, not one per request.
   */
  async renew(): Promise<void> {
    if (!this.inflight) this.token = undefined;
    await this.get();
  }

  /** Removes the credentials and the current token from text a provider sent back. */
  redact(text: string): string {
    let out = text;
    for (const secret of [this.opts.authorizationKey, ...this.opts.secrets, this.token?.value]) out = redactSecret(out, secret);
    return out;
  }

  private async fetch(): Promise<string> {
    const { provider, authUrl, authorizationKey, scope, upstream, timeouts, log } = this.opts;
    const request = {
      url: authUrl,
      method: 'POST' as const,
      headers: {
        authorization: `Basic ${authorizationKey}`,
        rquid: randomUUID(),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ scope }).toString(),
    };
    let status: number;
    let text: string;
    try {
      const res = await upstream.send(request, this.signal, timeouts, provider);
      try {
        status = res.status;
        text = await res.body.text();
      } finally {
        res.release();
      }
    } catch (err) {
      const cause = err instanceof Error ? err.message : String(err);
      log.warn({ provider, status: err instanceof GatewayError ? err.status : undefined }, 'GigaChat token request failed');
      throw this.failure(err instanceof GatewayError && err.status === 504 ? 504 : 502, `the token request failed: ${cause}`);
    }
    const body = tryParseJson(text) as { access_token?: unknown; expires_at?: unknown; message?: unknown } | undefined;
    if (status !== 200) {
      const message = typeof body?.message === 'string' ? body.message : text.slice(0, 300) || `HTTP ${status}`;
      log.warn({ provider, status }, 'GigaChat refused the token request');
      // 401/403: the authorization key (or its scope) is wrong — a setup problem, not an outage.
      if (status === 401 || status === 403) throw this.failure(401, `GigaChat rejected the authorization key (HTTP ${status}): ${message}`);
      throw this.failure(502, `the token request answered HTTP ${status}: ${message}`);
    }
    if (typeof body?.access_token !== 'string' || body.access_token === '' || typeof body.expires_at !== 'number') {
      throw this.failure(502, 'the token response has no access_token and expires_at.');
    }
    this.token = { value: body.access_token, expiresAt: epochMs(body.expires_at) };
    log.debug({ provider, expires_at: new Date(this.token.expiresAt).toISOString() }, 'GigaChat access token renewed');
    return this.token.value;
  }

  private failure(status: 401 | 502 | 504, message: string): GatewayError {
    const type = status === 401 ? 'authentication_error' : status === 504 ? 'timeout_error' : 'upstream_error';
    return new GatewayError(status, type, 'upstream_auth_failed', this.redact(`${this.opts.provider}: ${message}`).slice(0, 1000));
  }
}
