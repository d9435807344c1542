-- CreateIndex
CREATE INDEX "User_lastLoginAt_id_idx" ON "User"("lastLoginAt", "id");

