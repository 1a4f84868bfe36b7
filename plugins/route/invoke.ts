/**
 * One model request across its targets: retries with backoff, fallbacks, one attempt budget and
 * one deadline for the whole request, a circuit breaker per target. Small pieces, after Caddy's
 * reverse proxy: the model's `Plan` orders the targets (its strategy), `classify` + `retry_on` say
 * whether a failure is worth another call, `Breaker` says whether a target may be called,
 * `RequestDeadline` bounds the time; this loop only walks the targets, and tells each target's
 * state (in flight, latency, breaker) how its call went.
 *
 * A stream is committed to once its first chunk is in hand: until then any failure (error status,
 * error event, cut connection, idle timeout, an end with no chunk) leaves the attempt for another.
 * After that the stream is the client's, and a failure ends it with an error event, as before.
 */
import { ChunkStream, type Attempt, type Context, type ModelEndpoint, type ResolvedModel } from '../../core/context.js';
import { GatewayError, errors, toGatewayError } from '../../core/errors.js';
import { ClientGoneError, type UpstreamClient } from '../../core/http/upstream.js';
import type { Logger } from '../../core/log.js';
import type { Operation } from './adapter.js';
import type { Provider } from './resolve.js';
import { callTarget, type AttemptAnswer, type CallSetup } from './call.js';
import type { TokenCounter } from './final-usage.js';
import { backoffMs, classify, isTargetFault, sameTargetMayRecover, sleep, type RetryPolicy } from './retry.js';
import type { Admission, BreakerSettings, CallOutcome } from './breaker.js';
import type { BreakerSync } from './breaker-sync.js';
import type { Pick, Plan } from './plans.js';
import type { TargetRegistry } from './targets.js';

export interface InvokeEnv {
  readonly providers: ReadonlyMap<string, Provider>;
  readonly upstream: UpstreamClient;
  readonly counter: TokenCounter;
  readonly targets: TargetRegistry;
  readonly breaker: BreakerSettings;
  /** Shares breaker changes with the other replicas (a Redis store and `breaker.shared`). */
  readonly sync: BreakerSync | undefined;
  /** EWMA weight of a new latency measurement. */
  readonly decay: number;
  /** The strategy of a `models:` key; undefined for a `provider/model` id no key matched. */
  planOf(key: string): Plan | undefined;
  readonly providerHeaders: boolean;
  readonly log: Logger;
  /** The retry policy of a `models:` key. */
  policyOf(key: string): RetryPolicy;
}

/**
 * The request's deadline: an abort signal that follows the client's and also fires when the time
 * is up. Upstream calls run on it; once an answer has begun, `settle()` stops the clock (a stream
 * then runs on under its provider's own timeouts, still ended if the client leaves).
 */
class RequestDeadline {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private timer: NodeJS.Timeout | undefined;
  expired = false;

  constructor(client: AbortSignal, readonly ms: number, expired: () => GatewayError) {
    if (client.aborted) this.controller.abort(client.reason);
    else client.addEventListener('abort', () => this.controller.abort(client.reason), { once: true });
    if (ms > 0) {
      this.timer = setTimeout(() => {
        this.expired = true;
        this.controller.abort(expired());
      }, ms).unref();
    }
  }

  settle(): void {
    clearTimeout(this.timer);
  }
}

/** The 503 when every target of a model is skipped by an open breaker. */
function allTargetsUnavailable(model: ResolvedModel, retryAfterMs: number): GatewayError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new GatewayError(
    503,
    'server_error',
    'all_targets_unavailable',
    `Every target of model '${model.requested.slice(0, 200)}' is failing and paused by its circuit breaker; try again in ${seconds} s.`,
    'model',
    { 'retry-after': String(seconds) },
  );
}

/** Hands out the first chunk again, then the rest of the attempt's stream, with no extra generator per chunk. */
function resumed(first: unknown, chunks: AsyncGenerator<unknown>): AsyncIterable<unknown> {
  let pending = true;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (!pending) return chunks.next();
        pending = false;
        return Promise.resolve({ done: false, value: first });
      },
      return: (value?: unknown) => chunks.return(value),
    }),
  };
}

export function createInvoke(env: InvokeEnv): (ctx: Context, endpoint: ModelEndpoint) => Promise<void> {
  const { providers, targets: registry, sync } = env;
  const useBreaker = env.breaker.enabled;

  /** The targets of a request, in the order its model's strategy gives. */
  function order(model: ResolvedModel, body: Record<string, unknown>): readonly Pick[] {
    const plan = env.planOf(model.key);
    if (plan) return plan.order({ targets: model.targets, body });
    return model.targets.map((t) => ({ provider: providers.get(t.provider)!, model: t.model, state: registry.get(t.provider, t.model) }));
  }

  /**
   * Claims a cluster-wide probe slot when the breakers are shared; false: another replica is
   * probing, skip the target. The slot's key is released when the probe is over.
   */
  async function claimProbe(pick: Pick): Promise<string | false | undefined> {
    if (!sync?.enabled) return undefined;
    const key = await sync.claimProbe(pick.state, env.breaker.probes, env.breaker.cooldownMs);
    return key === undefined ? false : key;
  }

  /** Starts the stream; a stream that fails or ends before its first chunk throws, and its body is gone. */
  async function firstChunk(ctx: Context, answer: Extract<AttemptAnswer, { kind: 'stream' }>, provider: string): Promise<void> {
    const first = await answer.chunks.next();
    if (first.done) throw errors.badGateway('upstream_stream_empty', `${provider}: the stream ended before its first chunk.`);
    const rest = resumed(first.value, answer.chunks);
    ctx.response = answer.raw ? new ChunkStream(200, answer.headers, rest) : { status: 200, headers: answer.headers, stream: rest };
  }

  return async function invoke(ctx, endpoint) {
    const body = ctx.body!;
    /** Whether the conversation is as the core translated it (see Operation.inboundIntact); asked once. */
    let intact: boolean | undefined;
    const model = ctx.model!;
    const policy = env.policyOf(model.key);
    const stream = body['stream'] === true && (endpoint === 'chat.completions' || endpoint === 'completions');
    const streamOptions = body['stream_options'] as { include_usage?: boolean } | undefined | null;
    const deadline = new RequestDeadline(ctx.signal, policy.deadlineMs, () => deadlineError(model, policy));
    const deadlineAt = performance.now() + (policy.deadlineMs || Infinity);
    let calls = 0;
    let lastError: GatewayError | undefined;
    /** Soonest an open breaker lets a probe through, for `Retry-After` when every target is open. */
    let reopensInMs = Infinity;

    const withAttempts = (err: GatewayError): GatewayError =>
      env.providerHeaders && calls > 0 ? new GatewayError(err.status, err.type, err.code, err.message, err.param, { ...err.headers, 'x-switchyard-attempts': String(calls) }) : err;

    try {
      targets: for (const target of order(model, body)) {
        const provider = target.provider;
        const state = target.state;
        const breaker = state.breaker;
        for (let retry = 0; ; retry++) {
          if (calls >= policy.maxAttempts) break targets;
          const admission: Admission = useBreaker ? breaker.enter(performance.now(), env.breaker) : 'call';
          if (!admission) {
            reopensInMs = Math.min(reopensInMs, Math.max(0, breaker.openUntil - performance.now()));
            continue targets;
          }
          let probeKey: string | undefined;
          if (admission === 'probe') {
            const claimed = await claimProbe(target);
            if (claimed === false) {
              breaker.leave(admission, 'neutral', performance.now(), env.breaker);
              reopensInMs = Math.min(reopensInMs, env.breaker.cooldownMs);
              continue targets;
            }
            probeKey = claimed;
          }
          calls++;
          const attempt: Attempt = { provider: provider.name, model: target.model, startMs: performance.now() - ctx.startedAt };
          ctx.attempts.push(attempt);
          const headers: Record<string, string> = env.providerHeaders ? { 'x-switchyard-provider': provider.name, 'x-switchyard-model': target.model } : {};
          const setup: CallSetup = { upstream: env.upstream, headers, attempt, counter: env.counter, signal: deadline.signal, timeouts: policy.timeouts };
          let outcome: CallOutcome = 'neutral';
          let wait: number | undefined;
          let streaming = false;
          const callStart = performance.now();
          state.inFlight++;
          state.calls++;
          try {
            if (!provider.adapter.supports(endpoint)) {
              throw errors.badRequest('unsupported_endpoint', `Provider '${provider.name}' does not serve ${endpoint}.`, 'model');
            }
            const inbound = ctx.inbound;
            const nativeOnly = inbound?.extra?.['nativeOnly'] as readonly string[] | undefined;
            if (nativeOnly?.length && (provider.adapter.kind !== 'http' || provider.adapter.native !== inbound!.dialect || !(intact ??= JSON.stringify(body['messages']) === inbound!.messagesText))) {
              throw errors.badRequest('unsupported_for_target', `${nativeOnly[0]} is a server tool only an Anthropic target runs; '${provider.name}' would never see it, so the request is refused rather than sent without it.`, nativeOnly[0]!);
            }
            const op: Operation = {
              endpoint,
              body,
              model: target.model,
              stream,
              clientWantsUsage: streamOptions?.include_usage === true,
              requestId: ctx.id,
              headers: ctx.upstreamHeaders,
              ...(ctx.inbound ? { inbound: ctx.inbound, inboundIntact: (intact ??= JSON.stringify(body['messages']) === ctx.inbound.messagesText) } : {}),
            };
            const answer = await callTarget(ctx, { provider, model: target.model }, op, setup);
            if (answer.kind === 'stream') {
              await firstChunk(ctx, answer, provider.name);
              streaming = true;
              // A stream is in flight until it is over, whoever ends it.
              ctx.afterResponse(() => void state.inFlight--);
            } else ctx.response = answer.response;
            deadline.settle();
            const now = performance.now();
            state.measured(streaming || attempt.ttfbMs === undefined ? now - callStart : attempt.ttfbMs, env.decay, now);
            outcome = 'success';
            if (env.providerHeaders) ctx.response!.headers['x-switchyard-attempts'] = String(calls);
            ctx.route = { requested: model.requested, key: model.key, provider: provider.name, model: target.model };
            return;
          } catch (err) {
            const error = failureOf(err, ctx, deadline, provider.name);
            const upstreamStatus = attempt.status;
            attempt.status = upstreamStatus !== undefined && upstreamStatus < 400 ? error.status : (upstreamStatus ?? error.status);
            attempt.errorCode = error.code;
            attempt.ms = performance.now() - ctx.startedAt - attempt.startMs;
            const kind = classify(error, upstreamStatus);
            if (!deadline.expired && !ctx.signal.aborted) outcome = isTargetFault(kind) ? 'failure' : 'success';
            if (outcome === 'failure') {
              state.failures++;
              const now = performance.now();
              state.failedAfter(now - callStart, env.decay, now);
            }
            if (deadline.expired || kind === undefined || !policy.retryOn.has(kind)) throw error;
            lastError = error;
            env.log.warn({ request_id: ctx.id, provider: provider.name, model: target.model, code: error.code, status: error.status, attempt: calls }, 'upstream call failed with a retryable error');
            if (retry >= policy.retries || calls >= policy.maxAttempts || !sameTargetMayRecover(kind)) continue targets;
            wait = setup.retryAfterMs !== undefined ? Math.min(setup.retryAfterMs, policy.retryAfterCapMs) : backoffMs(policy, retry);
            // A wait that would outlast the deadline is no retry at all: the next target gets the time.
            if (performance.now() + wait >= deadlineAt) continue targets;
          } finally {
            if (!streaming) state.inFlight--;
            if (useBreaker) {
              const now = performance.now();
              const transition = breaker.leave(admission, outcome, now, env.breaker);
              if (transition) sync?.announce(state, transition, now);
              if (probeKey !== undefined) sync?.releaseProbe(probeKey);
            }
          }
          await sleep(wait ?? 0, deadline.signal);
        }
      }
    } catch (err) {
      if (err instanceof ClientGoneError || ctx.signal.aborted) throw err instanceof ClientGoneError ? err : new ClientGoneError();
      if (deadline.expired) throw withAttempts(deadline.signal.reason as GatewayError);
      throw err instanceof GatewayError ? withAttempts(err) : err;
    } finally {
      deadline.settle();
    }
    if (lastError) throw withAttempts(lastError);
    if (calls === 0 && reopensInMs !== Infinity) throw allTargetsUnavailable(model, reopensInMs);
    throw withAttempts(errors.internal());
  };

  /** The GatewayError a failed call comes to; a client that left, or an unexpected fault, is rethrown as it is. */
  function failureOf(err: unknown, ctx: Context, deadline: RequestDeadline, provider: string): GatewayError {
    if (ctx.signal.aborted) throw err instanceof ClientGoneError ? err : new ClientGoneError();
    if (deadline.expired) return deadline.signal.reason as GatewayError;
    if (err instanceof ClientGoneError) throw err;
    if (err instanceof GatewayError) return err;
    env.log.error({ err, request_id: ctx.id, provider }, 'adapter failed unexpectedly');
    throw toGatewayError(err);
  }

  function deadlineError(model: ResolvedModel, policy: RetryPolicy): GatewayError {
    return new GatewayError(504, 'timeout_error', 'deadline_exceeded', `No target of model '${model.requested.slice(0, 200)}' answered within the request's deadline (${policy.deadlineMs} ms).`);
  }
}
