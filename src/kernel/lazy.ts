/**
 * A value made on first use and shared afterwards. For packages that only some
 * instances or operations need (passkeys, SMTP, QR codes): an idle gateway
 * does not hold them in memory.
 */
export function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}
