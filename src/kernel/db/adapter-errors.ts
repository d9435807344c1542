/**
 * What Prisma's driver adapters say of a failed call. Imports nothing, so the
 * CLI reads it without loading a database client.
 */

/** The driver's own account of a failed Prisma call: a kind (TableDoesNotExist, DatabaseNotReachable, …) and its message. */
export function adapterCause(error: unknown): { kind?: string; originalMessage?: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { meta?: { driverAdapterError?: { cause?: { kind?: string; originalMessage?: string } } } }).meta?.driverAdapterError?.cause;
}
