-- AlterTable
ALTER TABLE "User" ADD COLUMN "lastActiveAt" DATETIME;

-- CreateTable
CREATE TABLE "UserActivity" (
    "userId" TEXT NOT NULL,
    "day" INTEGER NOT NULL,
    "gap" INTEGER NOT NULL,

    PRIMARY KEY ("userId", "day"),
    CONSTRAINT "UserActivity_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "UserActivityTally" (
    "day" INTEGER NOT NULL,
    "gap" INTEGER NOT NULL,
    "slot" INTEGER NOT NULL,
    "users" INTEGER NOT NULL,

    PRIMARY KEY ("day", "gap", "slot")
);

-- CreateTable
CREATE TABLE "UserTally" (
    "day" INTEGER NOT NULL,
    "slot" INTEGER NOT NULL,
    "created" INTEGER NOT NULL DEFAULT 0,
    "deleted" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("day", "slot")
);

-- CreateIndex
CREATE INDEX "User_lastActiveAt_id_idx" ON "User"("lastActiveAt", "id");


-- Backfill (statistics): the users who exist count as created on the UTC day of their createdAt
-- (Prisma stores SQLite dates as ISO-8601 text); their last sign-in is their last activity so far.
INSERT INTO "UserTally" ("day", "slot", "created", "deleted")
SELECT CASE WHEN typeof("createdAt") = 'integer' THEN "createdAt" / 86400000 ELSE CAST(strftime('%s', "createdAt") AS INTEGER) / 86400 END AS "day", 0, COUNT(*), 0
FROM "User" GROUP BY 1;
UPDATE "User" SET "lastActiveAt" = "lastLoginAt" WHERE "lastLoginAt" IS NOT NULL;
