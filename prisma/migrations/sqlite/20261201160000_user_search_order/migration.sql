-- A common users(filter: { query }) page straight from the search index: FTS5 gives its matches in key
-- order, and a user's key ("UserSearchKey") is given at insert, so keys follow creation order except for
-- users created with an earlier instant than one already there (an import, two creations racing) or whose
-- "createdAt" changed. Those users are listed here, kept by triggers; for every other user, a larger key
-- means a later ("createdAt", "id"), so the first matches in key order are the first in creation order.
-- Written by hand, as the search migration.
CREATE TABLE "UserSearchUnordered" (
    "userId" TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;

-- Out of order: some user already there comes at or after the new one in ("createdAt", "id") order.
CREATE TRIGGER "User_search_order_insert" AFTER INSERT ON "User"
WHEN EXISTS (SELECT 1 FROM "User" WHERE "createdAt" >= NEW."createdAt" AND ("createdAt", "id") > (NEW."createdAt", NEW."id"))
BEGIN
    INSERT OR IGNORE INTO "UserSearchUnordered" ("userId") VALUES (NEW."id");
END;

CREATE TRIGGER "User_search_order_update" AFTER UPDATE OF "createdAt" ON "User"
WHEN NEW."createdAt" IS NOT OLD."createdAt"
BEGIN
    INSERT OR IGNORE INTO "UserSearchUnordered" ("userId") VALUES (NEW."id");
END;

CREATE TRIGGER "User_search_order_delete" AFTER DELETE ON "User" BEGIN
    DELETE FROM "UserSearchUnordered" WHERE "userId" = OLD."id";
END;

-- The users already there: out of order when a user with a smaller key was created at the same instant or later.
INSERT INTO "UserSearchUnordered" ("userId")
SELECT "userId" FROM (
    SELECT k."userId", u."createdAt" AS "at",
           max(u."createdAt") OVER (ORDER BY k."key" ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS "before"
      FROM "UserSearchKey" k JOIN "User" u ON u."id" = k."userId"
)
WHERE "before" >= "at";
