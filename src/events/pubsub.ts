/**
 * Pub/sub for committed events. In-process by default; with REDIS_URL every
 * instance shares one Redis, so an event relayed by one instance reaches
 * subscribers connected to another. Topics are per user (`user:<id>`).
 *
 * Messages carry the event row as the relay read it from the committed log,
 * its `seq`, and `prevSeq` (the previous seq the publisher released on the
 * same topic), so a subscriber knows when it may trust the message alone and
 * when it must re-read the log to close a gap.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** An event row as the relay read it (dates become strings when it crosses Redis). */
export interface RelayedEvent {
  seq: number;
  id: string;
  type: string;
  userId: string | null;
  actorType: string | null;
  actorId: string | null;
  ip: string | null;
  userAgent: string | null;
  data: unknown;
  occurredAt: Date | string;
}

export interface EventMessage {
  seq: number;
  /** The seq of the previous event this publisher released on the topic; absent when it does not know. */
  prevSeq?: number;
  event: RelayedEvent;
}

export interface EventPubSub {
  /** True when messages cross instances (Redis): publishing is then done by one relay at a time. */
  readonly shared: boolean;
  publish(topic: string, message: EventMessage): void;
  /** Resolves once the subscription is live, so nothing published afterwards can be missed. */
  subscribe(topic: string, onMessage: (message: EventMessage) => void): Promise<() => void>;
  /** Subscribers in this process (health, tests). */
  listenerCount(topic: string): number;
  close(): Promise<void>;
}

export const userTopic = (userId: string) => `user:${userId}`;

type Listener = (message: EventMessage) => void;

function listenerRegistry() {
  const byTopic = new Map<string, Set<Listener>>();
  return {
    add(topic: string, listener: Listener): boolean {
      let set = byTopic.get(topic);
      const first = !set;
      if (!set) byTopic.set(topic, (set = new Set()));
      set.add(listener);
      return first;
    },
    /** True when the topic has no listener left. */
    remove(topic: string, listener: Listener): boolean {
      const set = byTopic.get(topic);
      if (!set) return false;
      set.delete(listener);
      if (set.size > 0) return false;
      byTopic.delete(topic);
      return true;
    },
    count: (topic: string) => byTopic.get(topic)?.size ?? 0,
    deliver(topic: string, message: EventMessage, logger?: Logger) {
      for (const listener of byTopic.get(topic) ?? []) {
        try {
          listener(message);
        } catch (error) {
          // One broken subscriber must not stop delivery to the others.
          logger?.error({ err: error, topic }, 'event subscriber failed');
        }
      }
    },
  };
}

export function createMemoryPubSub(logger?: Logger): EventPubSub {
  const listeners = listenerRegistry();
  return {
    shared: false,
    publish: (topic, message) => listeners.deliver(topic, message, logger),
    async subscribe(topic, onMessage) {
      listeners.add(topic, onMessage);
      return () => void listeners.remove(topic, onMessage);
    },
    listenerCount: (topic) => listeners.count(topic),
    async close() {},
  };
}

/** Redis pub/sub; `prefix` namespaces channels so several deployments (or test runs) can share one server. */
export function createRedisPubSub(url: string, prefix: string, logger?: Logger): EventPubSub {
  const options = { lazyConnect: false, maxRetriesPerRequest: null };
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, options);
  for (const client of [publisher, subscriber]) client.on('error', (err) => logger?.warn({ err }, 'redis connection error'));
  const listeners = listenerRegistry();
  // A second subscriber to a topic must also wait for the SUBSCRIBE the first one sent.
  const subscribed = new Map<string, Promise<unknown>>();
  subscriber.on('message', (channel: string, raw: string) => {
    if (!channel.startsWith(prefix)) return;
    let message: EventMessage;
    try {
      message = JSON.parse(raw) as EventMessage;
    } catch {
      return;
    }
    listeners.deliver(channel.slice(prefix.length), message, logger);
  });
  return {
    shared: true,
    publish(topic, message) {
      publisher.publish(prefix + topic, JSON.stringify(message)).catch((err) => logger?.warn({ err, topic }, 'redis publish failed'));
    },
    async subscribe(topic, onMessage) {
      if (listeners.add(topic, onMessage)) subscribed.set(topic, subscriber.subscribe(prefix + topic));
      await subscribed.get(topic);
      return () => {
        if (!listeners.remove(topic, onMessage)) return;
        subscribed.delete(topic);
        subscriber.unsubscribe(prefix + topic).catch(() => {});
      };
    },
    listenerCount: (topic) => listeners.count(topic),
    async close() {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}

export function createPubSub(options: { redisUrl?: string; prefix: string; logger?: Logger }): EventPubSub {
  return options.redisUrl ? createRedisPubSub(options.redisUrl, options.prefix, options.logger) : createMemoryPubSub(options.logger);
}
