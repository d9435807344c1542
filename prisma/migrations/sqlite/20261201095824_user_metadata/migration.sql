-- User.metadata becomes publicMetadata: renamed in place, so every stored value stays.
ALTER TABLE "User" RENAME COLUMN "metadata" TO "publicMetadata";

-- AlterTable
ALTER TABLE "User" ADD COLUMN "privateMetadata" JSONB;
ALTER TABLE "User" ADD COLUMN "unsafeMetadata" JSONB;
