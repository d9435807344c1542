/**
 * The transactional outbox: a service writes its change and the event in one
 * transaction, so the log can never disagree with the data. Publishing happens
 * later, from committed rows only (the relay).
 */
import type { Tx } from '../db/client.js';
import { newId } from '../ids.js';
import type { EventType } from './catalog.js';

/** Who caused a change, for the audit trail. */
export interface Actor {
  type: 'api_key' | 'bootstrap_key' | 'user' | 'system' | 'cli';
  id?: string;
}

/** What a request knows about itself: passed to every service call that changes something. */
export interface RequestMeta {
  actor: Actor;
  ip?: string;
  userAgent?: string;
}

export const systemMeta: RequestMeta = { actor: { type: 'system' } };

export interface NewEvent {
  type: EventType;
  userId?: string | null;
  /** Public facts only: never a secret, a hash or a code. */
  data?: Record<string, unknown>;
}

export type Outbox = ReturnType<typeof createOutbox>;

export function createOutbox(deps: { now: () => Date; onCommitted?: () => void }) {
  return {
    /** Writes the event inside the caller's transaction. */
    async record(tx: Tx, event: NewEvent, meta: RequestMeta) {
      return tx.event.create({
        data: {
          id: newId('UserEvent'),
          type: event.type,
          userId: event.userId ?? null,
          actorType: meta.actor.type,
          actorId: meta.actor.id ?? null,
          ip: meta.ip ?? null,
          userAgent: meta.userAgent ?? null,
          data: (event.data ?? {}) as object,
          occurredAt: deps.now(),
        },
      });
    },
    /** Call after a transaction that recorded events has committed: wakes the relay. */
    committed() {
      deps.onCommitted?.();
    },
  };
}
