-- AlterTable
ALTER TABLE "AuthMethod" ADD COLUMN     "verifiedAt" TIMESTAMP(3);


-- Authenticators confirmed before the column existed: when their user.totp_added was recorded,
-- else (the event was pruned) when their registration began.
UPDATE "AuthMethod" SET "verifiedAt" = COALESCE(
    (SELECT MAX("occurredAt") FROM "Event" WHERE "type" = 'user.totp_added' AND "data"->>'authMethodId' = "AuthMethod"."id"),
    "createdAt"
) WHERE "kind" = 'TOTP' AND "verified";
