-- AlterTable
ALTER TABLE "Session" ADD COLUMN "organizationId" TEXT;

-- AlterTable
ALTER TABLE "MfaChallenge" ADD COLUMN "organizationId" TEXT;

