/**
 * The contract between `npm run bench -- hot-paths` (bench/hot-paths.ts) and
 * its groups of rows (requests.ts, search.ts, fanout.ts): each group starts
 * what it needs for one database (gateway, baseline, data set), measures its
 * rows against their baselines in alternating rounds, stops everything, and
 * returns one HotRow per target row of the table.
 */
import type { Provider, Row } from '../lib.js';

export interface HotRow {
  provider: Provider;
  /** The operation as the table names it, e.g. "refreshSession". */
  operation: string;
  /** The gateway's side, and the baseline's (absent when the target is absolute, e.g. a p50). */
  gateway: Row;
  baseline?: Row;
  /** What is compared, e.g. gateway req/s ÷ baseline req/s; undefined when the target is absolute. */
  ratio?: number;
  /** The target in words, e.g. "≥ 0.5" or "p50 ≤ 20 ms, no event-loop block over 20 ms". */
  target: string;
  met: boolean;
  /** A reference row, not a target: what the rows above it could reach at most (printed with "–" for met). */
  reference?: boolean;
  /** Other measured facts worth a line (e.g. the longest event-loop block, mutation latency). */
  notes?: string[];
}

export interface HotContext {
  provider: Provider;
  /** Seconds per side and row, split into `rounds` alternating rounds after `warmupS` unmeasured. */
  durationS: number;
  rounds: number;
  warmupS: number;
  connections: number;
  log: (line: string) => void;
}

export type HotGroup = (ctx: HotContext) => Promise<HotRow[]>;
