/**
 * The transactional outbox: a service writes its change and the event in one
 * transaction, so the log can never disagree with the data. Publishing happens
 * later, from committed rows only (the relay).
 */
import { Prisma, type Db, type Tx } from '../db/client.js';
import type { DirectSql, Statement } from '../db/direct.js';
import type { Event } from '../db/models.js';
import { newId } from '../ids.js';

/** Who caused a change, for the audit trail. */
export interface Actor {
  /** webhook_portal: the holder of a webhook portal link (id: the link's whl_ id). */
  type: 'api_key' | 'bootstrap_key' | 'user' | 'system' | 'cli' | 'webhook_portal';
  id?: string;
  /** A user's session (access-token callers): what re-authentication is judged by. Not recorded in events. */
  sessionId?: string;
  /** The personal access token a user acts with (type user, no session). Not recorded in events. */
  personalAccessTokenId?: string;
}

/** What a request knows about itself: passed to every service call that changes something. */
export interface RequestMeta {
  actor: Actor;
  ip?: string;
  userAgent?: string;
  /** The trace the request belongs to (tracing on), so an audit entry leads to its spans. */
  traceId?: string;
}

export const systemMeta: RequestMeta = { actor: { type: 'system' } };

/** An event to record: its type, the user it is about, and its payload. */
export interface NewEvent<T extends string = string, D = object> {
  type: T;
  userId?: string | null;
  /** The organization it is about (organization events): what organizationEvents follows. */
  organizationId?: string | null;
  /** Public facts only: never a secret, a hash or a code. */
  data: D;
}

const INSERT_EVENT = `
  INSERT INTO "Event" ("id", "type", "userId", "organizationId", "actorType", "actorId", "ip", "userAgent", "traceId", "data", "occurredAt")
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  RETURNING "seq"`;
/** The same insert's text pieces, for Prisma.sql inside a caller's transaction. */
const INSERT_EVENT_PIECES = INSERT_EVENT.split('?');
/**
 * The insert that also sends the relay's NOTIFY (PostgreSQL): delivered when
 * the insert commits, and only then, without a round trip of its own.
 */
const INSERT_EVENT_NOTIFYING = `${INSERT_EVENT}, pg_notify(?, ?) AS "notified"`;

/** What committed() is told: `notified`, the commit's own event insert sent the NOTIFY already. */
export interface Committed {
  notified?: boolean;
}

/**
 * `P` maps each event type to its payload (the modules' catalog): every
 * method accepts only a catalogued type with its own payload. `check`, when
 * given, validates payloads at run time too (outside production).
 */
export function createOutbox<P extends Record<string, object>>(deps: {
  db: Db;
  direct: DirectSql;
  now: () => Date;
  onCommitted?: (committed: Committed) => void;
  /**
   * The relay's NOTIFY channel and payload while it wakes other instances
   * (PostgreSQL), else null: direct event inserts then send it themselves.
   */
  notice?: () => readonly [channel: string, payload: string] | null;
  check?: (type: string, data: unknown) => void;
}) {
  type Typed<T extends keyof P & string> = NewEvent<T, P[T]>;
  function newRow(event: NewEvent, meta: RequestMeta): Omit<Event, 'seq'> {
    deps.check?.(event.type, event.data);
    return {
      id: newId('UserEvent'),
      type: event.type,
      userId: event.userId ?? null,
      organizationId: event.organizationId ?? null,
      actorType: meta.actor.type,
      actorId: meta.actor.id ?? null,
      ip: meta.ip ?? null,
      userAgent: meta.userAgent ?? null,
      traceId: meta.traceId ?? null,
      data: event.data as Event['data'],
      occurredAt: deps.now(),
    };
  }
  const values = (row: Omit<Event, 'seq'>) =>
    [row.id, row.type, row.userId, row.organizationId, row.actorType, row.actorId, row.ip, row.userAgent, row.traceId, JSON.stringify(row.data), row.occurredAt] as const;
  /** A direct insert of the event, sending the NOTIFY when the relay asks for one. */
  function insert(row: Omit<Event, 'seq'>): Statement & { notified: boolean } {
    const notice = deps.notice?.();
    return notice
      ? { sql: INSERT_EVENT_NOTIFYING, params: [...values(row), ...notice], notified: true }
      : { sql: INSERT_EVENT, params: [...values(row)], notified: false };
  }

  const outbox = {
    /** Writes the event inside the caller's transaction. */
    async record<T extends keyof P & string>(tx: Tx, event: Typed<T>, meta: RequestMeta): Promise<Event> {
      const row = newRow(event, meta);
      // Plain SQL (Prisma.sql binds every value): every change records an event,
      // and a model query costs far more in Prisma's query compiler than this
      // insert costs the database.
      const [{ seq }] = await tx.$queryRaw<Array<{ seq: number | bigint }>>(
        Prisma.sql(INSERT_EVENT_PIECES, ...values(row)),
      );
      return { seq: Number(seq), ...row };
    },
    /**
     * Records an event outside any transaction, straight to the driver (every
     * verification records one), and wakes the relay. `along`, writes that
     * go with the event, commit atomically with it.
     */
    async append<T extends keyof P & string>(event: Typed<T>, meta: RequestMeta, along?: Statement | readonly Statement[]): Promise<Event> {
      const row = newRow(event, meta);
      const { sql, params, notified } = insert(row);
      const [{ seq }] = along && (!Array.isArray(along) || along.length > 0)
        ? await deps.direct.allAfter<{ seq: number }>(along, sql, params)
        : await deps.direct.all<{ seq: number }>(sql, params);
      outbox.committed({ notified });
      return { seq: Number(seq), ...row };
    },
    /**
     * The insert of an event as a statement, for a direct write that commits
     * it together with its own. Call committed() after it did, with the
     * statement's `notified` (on PostgreSQL its insert sends the NOTIFY).
     */
    statement<T extends keyof P & string>(event: Typed<T>, meta: RequestMeta): Statement & { notified: boolean } {
      return insert(newRow(event, meta));
    },
    /** Runs `fn` in a Prisma transaction (where it records its events) and wakes the relay once it committed. */
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const result = await deps.db.$transaction(fn);
      outbox.committed();
      return result;
    },
    /** Call after a transaction that recorded events has committed: wakes the relay. */
    committed(committed: Committed = {}) {
      deps.onCommitted?.(committed);
    },
  };
  return outbox;
}
