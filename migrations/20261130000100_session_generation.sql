-- Ending a user's other sessions (password change). Each signed-in session remembers the
-- generation it was created under; bumping the user's generation makes every session that
-- remembers an older one signed out at its next request (and ends its live streams within
-- 30 s). A counter rather than a timestamp: clocks of several processes never matter.
ALTER TABLE users ADD COLUMN session_generation bigint NOT NULL DEFAULT 0;
