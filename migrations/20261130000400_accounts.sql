-- Issue 13: verified emails, single-use links sent by mail, account deletion.

-- When the account's current email was verified. Accounts made before verification existed
-- count as verified (their owners signed up under the old rules).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
-- Set when deletion starts: the account is gone for sign-in at once, its rows follow in batches.
ALTER TABLE users ADD COLUMN deleting_at timestamptz;

-- Links sent by mail (verify an email, reset a password): only a SHA-256 of the token (256
-- random bits) is stored; a token is deleted when used, so it works once. `email` is the
-- address the link was sent to (for a change of email, the new one).
CREATE TABLE account_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email      text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- The session table exactly as tower-sessions-sqlx-store creates it at start (IF NOT EXISTS
-- both ways), so that deleting an account's sessions is a query checked at compile time.
CREATE SCHEMA IF NOT EXISTS tower_sessions;
CREATE TABLE IF NOT EXISTS tower_sessions.session (
    id text PRIMARY KEY NOT NULL,
    data bytea NOT NULL,
    expiry_date timestamptz NOT NULL
);
