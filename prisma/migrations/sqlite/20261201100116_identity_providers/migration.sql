-- CreateTable
CREATE TABLE "IdentityProvider" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "issuer" TEXT,
    "authorizationEndpoint" TEXT,
    "tokenEndpoint" TEXT,
    "userinfoEndpoint" TEXT,
    "emailsEndpoint" TEXT,
    "clientId" TEXT NOT NULL,
    "clientSecretEncrypted" TEXT,
    "scopes" TEXT NOT NULL,
    "claimMapping" JSONB,
    "trustEmail" BOOLEAN NOT NULL DEFAULT false,
    "linkPolicy" TEXT NOT NULL DEFAULT 'PROMPT',
    "storeTokens" BOOLEAN NOT NULL DEFAULT false,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "IdpLink" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "idpId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "username" TEXT,
    "email" TEXT,
    "emailVerified" BOOLEAN NOT NULL DEFAULT false,
    "profile" JSONB,
    "tokensEncrypted" TEXT,
    "lastUsedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "IdpLink_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "IdpLink_idpId_fkey" FOREIGN KEY ("idpId") REFERENCES "IdentityProvider" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "IdpIntent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "idpId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "linkUserId" TEXT,
    "stateHash" TEXT NOT NULL,
    "secretsEncrypted" TEXT NOT NULL,
    "successUrl" TEXT NOT NULL,
    "failureUrl" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "tokenHash" TEXT,
    "subject" TEXT,
    "resultEncrypted" TEXT,
    "failureReason" TEXT,
    "expiresAt" DATETIME NOT NULL,
    "completedAt" DATETIME,
    "consumedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "IdpIntent_idpId_fkey" FOREIGN KEY ("idpId") REFERENCES "IdentityProvider" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "IdentityProvider_name_key" ON "IdentityProvider"("name");

-- CreateIndex
CREATE INDEX "IdpLink_userId_idx" ON "IdpLink"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "IdpLink_idpId_subject_key" ON "IdpLink"("idpId", "subject");

-- CreateIndex
CREATE UNIQUE INDEX "IdpIntent_stateHash_key" ON "IdpIntent"("stateHash");

-- CreateIndex
CREATE UNIQUE INDEX "IdpIntent_tokenHash_key" ON "IdpIntent"("tokenHash");

-- CreateIndex
CREATE INDEX "IdpIntent_expiresAt_idx" ON "IdpIntent"("expiresAt");

