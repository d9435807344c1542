/**
 * Query limits (graphql-armor) answered as what they are. Armor reports a
 * query over a limit as "Syntax Error: …", which reads like a typo; this
 * turns each into a clear error with a stable code and the numbers:
 * QUERY_TOO_COMPLEX (cost), QUERY_TOO_DEEP, TOO_MANY_ALIASES,
 * TOO_MANY_DIRECTIVES, with extensions.limit and extensions.found.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const LIMITS: Array<{ pattern: RegExp; code: string; what: string }> = [
  { pattern: /Query Cost limit of (\d+) exceeded, found (\d+)/, code: 'QUERY_TOO_COMPLEX', what: 'The query costs' },
  { pattern: /Query depth limit of (\d+) exceeded, found (\d+)/, code: 'QUERY_TOO_DEEP', what: 'The query is nested' },
  { pattern: /Aliases limit of (\d+) exceeded, found (\d+)/, code: 'TOO_MANY_ALIASES', what: 'The query has aliases:' },
  { pattern: /Directives limit of (\d+) exceeded, found (\d+)/, code: 'TOO_MANY_DIRECTIVES', what: 'The query has directives:' },
];

export function limitError<E extends Error>(error: E): E | GraphQLError {
  for (const { pattern, code, what } of LIMITS) {
    const match = pattern.exec(error.message);
    if (!match) continue;
    const [limit, found] = [Number(match[1]), Number(match[2])];
    const nodes = error instanceof GraphQLError ? error.nodes : undefined;
    return new GraphQLError(`${what} ${found}, over the limit of ${limit}.`, { nodes, extensions: { code, limit, found } });
  }
  return error;
}

/** Rewrites armor's rejections in the answer (armor throws them out of validation); other errors pass unchanged. */
export function useClearLimitErrors(): Plugin {
  return {
    onResultProcess: ({ result, setResult }) => {
      if (Array.isArray(result) || !('errors' in result) || !result.errors?.some((e) => e.message.startsWith('Syntax Error:'))) return;
      setResult({ ...result, errors: result.errors.map((e) => limitError(e)) });
    },
  };
}
