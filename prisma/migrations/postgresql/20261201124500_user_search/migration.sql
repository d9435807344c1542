-- users(filter: { query }) without a table scan. pg_trgm is a trusted extension: the database owner may create it.
-- Written by hand: the model file is shared with SQLite, and knows no generated column or GIN index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The five searched columns in one lower-cased text, kept by PostgreSQL itself on every write, with one
-- trigram index: `lower(x) LIKE lower(p)` is what ILIKE tests, so this column finds every user the
-- store's ILIKE/LIKE comparisons match, with one cheap LIKE per row where five ILIKEs would lower every
-- value again. U+0001 between the values: a query without wildcards never spans two of them.
ALTER TABLE "User" ADD COLUMN "searchText" TEXT GENERATED ALWAYS AS (
    lower(coalesce("emailNormalized", '') || E'\x01' || coalesce("usernameNormalized", '') || E'\x01' ||
          coalesce("givenName", '') || E'\x01' || coalesce("familyName", '') || E'\x01' || coalesce("displayName", ''))
) STORED;

CREATE INDEX "User_searchText_trgm_idx" ON "User" USING GIN ("searchText" gin_trgm_ops);
