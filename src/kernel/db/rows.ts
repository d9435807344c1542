/**
 * How rows read straight from the driver (direct.ts) become what Prisma
 * returns for the same model: the columns to turn into a Date, a boolean or
 * parsed JSON. A test compares both reads column by column.
 */
import type { RowShape } from './direct.js';

export const USER_ROW = {
  dates: ['emailVerifiedAt', 'phoneVerifiedAt', 'lockedUntil', 'passwordChangedAt', 'lastLoginAt', 'createdAt', 'updatedAt'],
  booleans: ['passwordMustChange'],
  json: ['publicMetadata', 'privateMetadata', 'unsafeMetadata'],
} as const satisfies RowShape;

export const EVENT_ROW = { dates: ['occurredAt'], json: ['data'] } as const satisfies RowShape;
