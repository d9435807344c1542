-- CreateTable
CREATE TABLE "WebhookPortalLink" (
    "id" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "appIds" JSONB NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "usedAt" TIMESTAMP(3),
    "sessionHash" TEXT,
    "sessionExpiresAt" TIMESTAMP(3),

    CONSTRAINT "WebhookPortalLink_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "WebhookPortalLink_tokenHash_key" ON "WebhookPortalLink"("tokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookPortalLink_sessionHash_key" ON "WebhookPortalLink"("sessionHash");

