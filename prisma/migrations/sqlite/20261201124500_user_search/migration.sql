-- users(filter: { query }) without a table scan: a trigram index (FTS5) over the five searched columns,
-- kept by triggers, so every write to User (the gateway's, the CLI's, a bulk load) keeps it right.
-- Written by hand: the model file knows no virtual tables or triggers.
--
-- The index is contentless (it keeps no copy of the text) and its rowids are the keys of
-- "UserSearchKey": User's own rowid is no stable key, as VACUUM may renumber a table whose
-- primary key is not an INTEGER.
CREATE TABLE "UserSearchKey" (
    "key" INTEGER NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL
);
CREATE UNIQUE INDEX "UserSearchKey_userId_key" ON "UserSearchKey"("userId");

-- Each value is indexed as lower() gives it (ASCII letters only, as LIKE ignores their case and no
-- other's) with a case-sensitive tokenizer, so the index matches exactly what the users store's LIKE
-- matches. It is followed by two U+0002 characters, so that every occurrence of one or two characters,
-- the last ones of a value included, begins some trigram: a query that short is looked up through the
-- trigrams that begin with it ("UserSearchTerms").
CREATE VIRTUAL TABLE "UserSearch" USING fts5(
    "emailNormalized", "usernameNormalized", "givenName", "familyName", "displayName",
    content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1'
);

-- The index's trigrams, in order: those that begin with a short query.
CREATE VIRTUAL TABLE "UserSearchTerms" USING fts5vocab("UserSearch", 'row');

CREATE TRIGGER "User_search_insert" AFTER INSERT ON "User" BEGIN
    INSERT INTO "UserSearchKey" ("userId") VALUES (NEW."id");
    INSERT INTO "UserSearch" (rowid, "emailNormalized", "usernameNormalized", "givenName", "familyName", "displayName")
    VALUES (last_insert_rowid(), lower(NEW."emailNormalized") || char(2, 2), lower(NEW."usernameNormalized") || char(2, 2),
            lower(NEW."givenName") || char(2, 2), lower(NEW."familyName") || char(2, 2), lower(NEW."displayName") || char(2, 2));
END;

CREATE TRIGGER "User_search_update" AFTER UPDATE OF "emailNormalized", "usernameNormalized", "givenName", "familyName", "displayName" ON "User" BEGIN
    DELETE FROM "UserSearch" WHERE rowid = (SELECT "key" FROM "UserSearchKey" WHERE "userId" = OLD."id");
    INSERT INTO "UserSearch" (rowid, "emailNormalized", "usernameNormalized", "givenName", "familyName", "displayName")
    SELECT "key", lower(NEW."emailNormalized") || char(2, 2), lower(NEW."usernameNormalized") || char(2, 2),
           lower(NEW."givenName") || char(2, 2), lower(NEW."familyName") || char(2, 2), lower(NEW."displayName") || char(2, 2)
      FROM "UserSearchKey" WHERE "userId" = NEW."id";
END;

CREATE TRIGGER "User_search_delete" AFTER DELETE ON "User" BEGIN
    DELETE FROM "UserSearch" WHERE rowid = (SELECT "key" FROM "UserSearchKey" WHERE "userId" = OLD."id");
    DELETE FROM "UserSearchKey" WHERE "userId" = OLD."id";
END;

-- The users already there.
INSERT INTO "UserSearchKey" ("userId") SELECT "id" FROM "User" ORDER BY "createdAt";
INSERT INTO "UserSearch" (rowid, "emailNormalized", "usernameNormalized", "givenName", "familyName", "displayName")
SELECT k."key", lower(u."emailNormalized") || char(2, 2), lower(u."usernameNormalized") || char(2, 2),
       lower(u."givenName") || char(2, 2), lower(u."familyName") || char(2, 2), lower(u."displayName") || char(2, 2)
  FROM "UserSearchKey" k JOIN "User" u ON u."id" = k."userId";
