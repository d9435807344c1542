-- AlterTable
ALTER TABLE "Event" ADD COLUMN "traceId" TEXT;

