-- User.metadata becomes publicMetadata: renamed in place, so every stored value stays.
ALTER TABLE "User" RENAME COLUMN "metadata" TO "publicMetadata";

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "privateMetadata" JSONB,
ADD COLUMN     "unsafeMetadata" JSONB;

-- users(filter: { metadata: { path, equals } }) asks "publicMetadata" @> '{"billing":{"tier":"pro"}}',
-- which this index answers for any path (jsonb_path_ops: containment only, smaller than the default ops).
-- Written by hand: the model file is shared with SQLite, which has no GIN index.
CREATE INDEX "User_publicMetadata_idx" ON "User" USING GIN ("publicMetadata" jsonb_path_ops);
