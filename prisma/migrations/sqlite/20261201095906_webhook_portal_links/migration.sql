-- CreateTable
CREATE TABLE "WebhookPortalLink" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tokenHash" TEXT NOT NULL,
    "appIds" JSONB NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "usedAt" DATETIME,
    "sessionHash" TEXT,
    "sessionExpiresAt" DATETIME
);

-- CreateIndex
CREATE UNIQUE INDEX "WebhookPortalLink_tokenHash_key" ON "WebhookPortalLink"("tokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookPortalLink_sessionHash_key" ON "WebhookPortalLink"("sessionHash");

