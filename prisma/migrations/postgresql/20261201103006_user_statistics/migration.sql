-- AlterTable
ALTER TABLE "User" ADD COLUMN     "lastActiveAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "UserActivity" (
    "userId" TEXT NOT NULL,
    "day" INTEGER NOT NULL,
    "gap" INTEGER NOT NULL,

    CONSTRAINT "UserActivity_pkey" PRIMARY KEY ("userId","day")
);

-- CreateTable
CREATE TABLE "UserActivityTally" (
    "day" INTEGER NOT NULL,
    "gap" INTEGER NOT NULL,
    "slot" INTEGER NOT NULL,
    "users" INTEGER NOT NULL,

    CONSTRAINT "UserActivityTally_pkey" PRIMARY KEY ("day","gap","slot")
);

-- CreateTable
CREATE TABLE "UserTally" (
    "day" INTEGER NOT NULL,
    "slot" INTEGER NOT NULL,
    "created" INTEGER NOT NULL DEFAULT 0,
    "deleted" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "UserTally_pkey" PRIMARY KEY ("day","slot")
);

-- CreateIndex
CREATE INDEX "User_lastActiveAt_id_idx" ON "User"("lastActiveAt", "id");

-- AddForeignKey
ALTER TABLE "UserActivity" ADD CONSTRAINT "UserActivity_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Backfill (statistics): the users who exist count as created on the UTC day of their createdAt;
-- their last sign-in is their last activity so far.
INSERT INTO "UserTally" ("day", "slot", "created", "deleted")
SELECT CAST(FLOOR(EXTRACT(EPOCH FROM "createdAt") / 86400) AS INTEGER) AS "day", 0, COUNT(*), 0
FROM "User" GROUP BY 1;
UPDATE "User" SET "lastActiveAt" = "lastLoginAt" WHERE "lastLoginAt" IS NOT NULL;
