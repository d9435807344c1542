import path from 'node:path';

/** A `file:` URL's path, resolved against the working directory. */
export function sqlitePath(url: string): string {
  return path.resolve(url.replace(/^file:(\/\/)?/, '').replace(/\?.*$/, ''));
}
