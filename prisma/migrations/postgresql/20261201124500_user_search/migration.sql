-- users(filter: { query }) without a table scan: trigram GIN indexes (pg_trgm) on the five searched
-- columns answer the very LIKE/ILIKE '%…%' (and '…%') comparisons the store writes, so the search means
-- what it meant before. pg_trgm is a trusted extension: the database owner may create it.
-- Written by hand: the model file is shared with SQLite, which has no GIN index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX "User_emailNormalized_trgm_idx" ON "User" USING GIN ("emailNormalized" gin_trgm_ops);
CREATE INDEX "User_usernameNormalized_trgm_idx" ON "User" USING GIN ("usernameNormalized" gin_trgm_ops);
CREATE INDEX "User_givenName_trgm_idx" ON "User" USING GIN ("givenName" gin_trgm_ops);
CREATE INDEX "User_familyName_trgm_idx" ON "User" USING GIN ("familyName" gin_trgm_ops);
CREATE INDEX "User_displayName_trgm_idx" ON "User" USING GIN ("displayName" gin_trgm_ops);
