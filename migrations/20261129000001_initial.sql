-- Hookvault's initial schema. Forward-only: later changes go into new files.

-- Accounts. Emails are compared case-insensitively, so the unique index is on lower(email).
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Endpoints. `token` is the public capture capability (>= 128 random bits, base62), separate
-- from the id so that ids can appear in dashboard URLs without granting write access.
CREATE TABLE endpoints (
    id                      uuid PRIMARY KEY,
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                    text NOT NULL,
    token                   text NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    -- The custom response served to senders.
    response_status         integer NOT NULL DEFAULT 200,
    response_content_type   text NOT NULL DEFAULT 'application/json',
    response_body           bytea NOT NULL DEFAULT convert_to('{"ok":true}', 'UTF8'),
    -- [[name, value], ...] extra response headers, as JSON text pairs.
    response_headers        jsonb NOT NULL DEFAULT '[]',
    response_delay_ms       integer NOT NULL DEFAULT 0,
    -- Signature check at capture: scheme name and the secret sealed with the server key.
    signing_scheme          text,
    signing_secret_sealed   bytea,
    CONSTRAINT endpoints_token_key UNIQUE (token),
    CONSTRAINT endpoints_response_status_check CHECK (response_status BETWEEN 100 AND 599),
    CONSTRAINT endpoints_response_delay_check CHECK (response_delay_ms BETWEEN 0 AND 10000)
);
CREATE INDEX endpoints_user_id_idx ON endpoints (user_id, created_at);

-- Captured requests, verbatim. `seq` gives every capture a strictly increasing number used as
-- the SSE event id; the UUIDv7 id is what users see.
CREATE TABLE requests (
    id               uuid PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    endpoint_id      uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    received_at      timestamptz NOT NULL,
    method           text NOT NULL,
    -- Raw path (after /in/{token}) and raw query exactly as received, percent-encoding kept.
    path             text NOT NULL,
    query            text,
    http_version     text NOT NULL,
    remote_addr      text NOT NULL,
    -- Headers in arrival order with original case and raw value bytes, encoded by
    -- hookvault_core::headers::encode (a length-prefixed blob: order and bytes survive).
    headers          bytea NOT NULL,
    content_type     text,
    body             bytea NOT NULL,
    body_size        integer NOT NULL,
    -- Derived at capture time; never used to change the stored bytes.
    provider         text,
    event_type       text,
    event_id         text,
    signature_scheme text,
    signature_status text,
    signature_reason text
);
-- Bodies compress well and lz4 is much cheaper than pglz on the hot path.
ALTER TABLE requests ALTER COLUMN body SET COMPRESSION lz4;
ALTER TABLE requests ALTER COLUMN headers SET COMPRESSION lz4;
-- Newest-first keyset pages per endpoint, and stream catch-up by seq.
CREATE INDEX requests_endpoint_seq_idx ON requests (endpoint_id, seq DESC);

-- API tokens: only a SHA-256 of the token is stored (the token has 190+ random bits, so a
-- plain hash is enough); `prefix` is shown in the settings page to tell tokens apart.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
