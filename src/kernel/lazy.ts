/**
 * A value made on first use and shared afterwards (a module alone needs no
 * wrapper: import() caches it). For objects built from packages that only
 * some instances need, such as the SMTP transport: an idle gateway does not
 * hold them in memory.
 */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}
