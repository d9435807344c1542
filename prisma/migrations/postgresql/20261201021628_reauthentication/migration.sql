-- AlterTable
ALTER TABLE "BackupCode" ADD COLUMN     "issuedToSessionId" TEXT;

-- AlterTable
ALTER TABLE "Session" ADD COLUMN     "authenticatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;


-- Existing sessions last proved a factor when they were opened.
UPDATE "Session" SET "authenticatedAt" = "createdAt";
