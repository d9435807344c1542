-- The lockout worker's read of policy locks that have ended, every few seconds: only the locked users, in
-- "lockedUntil" order. A partial index (so written by hand: the model cannot say it) holds just them, and
-- costs nothing for the others. With the index on "state" alone, SQLite's planner (whose statistics see one
-- state for nearly every user) walked the whole table in id order: half a second at a million users.
CREATE INDEX "User_due_locks_idx" ON "User"("lockedUntil") WHERE "state" = 'LOCKED';
