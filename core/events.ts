/**
 * Gateway events that are not requests: admin actions (every mutating `/admin` call, with its actor
 * and what it changed) and config reloads. The admin router and the gateway emit them; plugins
 * subscribe from process state through `env.events` (the `audit` plugin records them). Like the
 * request records, delivery is synchronous and subscribers must be cheap.
 */
import type { Logger } from './log.js';

/** Who did it. Never the secret: the admin secret is named by kind only, an API key by its id. */
export type AdminActor = { kind: 'admin_secret' } | { kind: 'api_key' | 'jwt'; orgId: string; keyId: string };

/** What an admin handler says it changed (`req.audit(...)`). JSON-serialisable; never a secret. */
export interface AdminChange {
  /** `key.rotate`, `credits.topup`, `cache.purge`…; default `METHOD /admin/route/:template`. */
  action?: string;
  target?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
}

/** One mutating admin call, successful or not. */
export interface AdminActionEvent {
  type: 'admin.action';
  /** Arrival time, epoch milliseconds. */
  time: number;
  requestId: string;
  method: string;
  /** The route template (`/admin/keys/:id/rotate`). */
  route: string;
  /** The path (at most 200 characters). */
  path: string;
  params: Record<string, string>;
  status: number;
  errorCode?: string;
  actor: AdminActor;
  change?: AdminChange;
}

/** A reload of a changed config file: applied, or rejected (the previous version keeps serving). */
export interface ConfigReloadEvent {
  type: 'config.reload';
  time: number;
  ok: boolean;
  file: string;
  fromVersion: number;
  toVersion: number;
  /** Content hashes of the config files; never the config itself (it holds secrets). */
  fromHash: string;
  toHash?: string;
  errors?: string[];
}

export type GatewayEvent = AdminActionEvent | ConfigReloadEvent;
export type EventSubscriber = (event: GatewayEvent) => void;

/** Delivers each event to every subscriber, synchronously; one that throws is logged and skipped. */
export class EventBus {
  private subscribers: EventSubscriber[] = [];

  constructor(private readonly log: Logger) {}

  /** Returns the function that unsubscribes. */
  subscribe(subscriber: EventSubscriber): () => void {
    this.subscribers = [...this.subscribers, subscriber];
    return () => {
      this.subscribers = this.subscribers.filter((s) => s !== subscriber);
    };
  }

  emit(event: GatewayEvent): void {
    for (const subscriber of this.subscribers) {
      try {
        subscriber(event);
      } catch (err) {
        this.log.error({ err, event: event.type }, 'a gateway-event subscriber failed');
      }
    }
  }
}
