// Writes the event catalog into docs/events.md (between its markers), from the modules' payload schemas.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CATALOG_BEGIN, CATALOG_END, eventCatalogMarkdown } from '../src/modules/events/catalog-doc.js';

const file = path.resolve(import.meta.dirname, '..', 'docs', 'events.md');
const doc = readFileSync(file, 'utf8');
const start = doc.indexOf(CATALOG_BEGIN);
const end = doc.indexOf(CATALOG_END);
const next = start >= 0 && end > start ? doc.slice(0, start) + eventCatalogMarkdown() + doc.slice(end + CATALOG_END.length) : `${doc.trimEnd()}\n\n${eventCatalogMarkdown()}\n`;
writeFileSync(file, next);
console.log('docs/events.md: event catalog written');
