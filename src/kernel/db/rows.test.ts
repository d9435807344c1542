/**
 * The shapes direct reads convert rows with (rows.ts) name every column the
 * model types as a date, a boolean or JSON: a column left out comes back as
 * the driver's text or number where callers expect a Date (as lastActiveAt
 * once did on SQLite).
 */
import { describe, expect, it } from 'vitest';
import { getDatamodel } from './generated/pothos-types.js';
import { EVENT_ROW, USER_ROW } from './rows.js';
import type { RowShape } from './direct.js';

function columnsOf(model: string, type: string): string[] {
  const fields: ReadonlyArray<{ kind: string; type: string; name: string }> = getDatamodel().datamodel.models[model].fields;
  return fields.filter((f) => f.kind === 'scalar' && f.type === type).map((f) => f.name).sort();
}

describe('direct row shapes', () => {
  it.each([
    ['User', USER_ROW],
    ['Event', EVENT_ROW],
  ] as Array<[string, RowShape]>)('%s names every DateTime, Boolean and Json column of its model', (model, shape) => {
    expect([...(shape.dates ?? [])].sort()).toEqual(columnsOf(model, 'DateTime'));
    expect([...(shape.booleans ?? [])].sort()).toEqual(columnsOf(model, 'Boolean'));
    expect([...(shape.json ?? [])].sort()).toEqual(columnsOf(model, 'Json'));
  });
});
