import path from 'node:path';

/** A `file:` URL's path, resolved against the working directory. */
export function sqlitePath(url: string): string {
  return path.resolve(url.replace(/^file:(\/\/)?/, '').replace(/\?.*$/, ''));
}

/** The database a URL names, for messages: never its user or password. */
export function describeDatabase(provider: 'sqlite' | 'postgresql', url: string): string {
  if (provider === 'sqlite') return `SQLite at ${sqlitePath(url)}`;
  const { host, pathname } = new URL(url);
  return `PostgreSQL at ${host}${pathname}`;
}
