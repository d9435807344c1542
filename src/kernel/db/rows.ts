/**
 * How rows read straight from the driver (direct.ts) become what Prisma
 * returns for the same model: the columns to turn into a Date, a boolean or
 * parsed JSON. A test compares both reads column by column.
 */
import { Prisma } from './client.js';
import type { RowShape } from './direct.js';

export const USER_ROW = {
  dates: ['emailVerifiedAt', 'phoneVerifiedAt', 'lockedUntil', 'passwordChangedAt', 'lastLoginAt', 'lastActiveAt', 'createdAt', 'updatedAt'],
  booleans: ['passwordMustChange'],
  json: ['publicMetadata', 'privateMetadata', 'unsafeMetadata'],
} as const satisfies RowShape;

/**
 * The model's columns of "User", named: a `SELECT *` would also bring the
 * columns migrations add beside the model (PostgreSQL's generated search
 * column), which Prisma never returns.
 */
export const USER_COLUMNS = Object.values(Prisma.UserScalarFieldEnum)
  .map((column) => `"${column}"`)
  .join(', ');

export const EVENT_ROW = { dates: ['occurredAt'], json: ['data'] } as const satisfies RowShape;
