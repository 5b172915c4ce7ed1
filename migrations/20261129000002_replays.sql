-- Replays: saved targets, the job table the workers claim from, and one row per attempt.
-- Forward-only, like every migration.

-- Targets a user saved for an endpoint ("my dev server"). The secret is sealed with the server
-- key and bound to this row's id, so a ciphertext copied to another row does not open.
CREATE TABLE replay_targets (
    id            uuid PRIMARY KEY,
    -- Redundant with endpoints.user_id, kept so every query can be scoped by owner directly.
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint_id   uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    name          text NOT NULL,
    url           text NOT NULL,
    -- A hookvault_core::signing::Scheme name (stripe, standard-webhooks, github, ...).
    scheme        text NOT NULL,
    secret_sealed bytea,
    -- Retries are off by default: a replay is something a developer asked for once, and
    -- repeating it against a dev server unasked would surprise. 10 keeps backoff bounded.
    max_attempts  integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT replay_targets_max_attempts_check CHECK (max_attempts BETWEEN 1 AND 10)
);
CREATE INDEX replay_targets_endpoint_idx ON replay_targets (endpoint_id, created_at);

-- One replay of one captured request to one URL: a job. The target's URL, scheme and sealed
-- secret are copied in when the job is queued (the secret re-sealed and bound to this row's
-- id), so editing or deleting a saved target never changes a replay already asked for.
CREATE TABLE replays (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint_id     uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    -- Retention deleting a capture deletes its replay history with it.
    request_id      uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    -- Informational only (the copy above is what is sent); kept when the target goes away.
    target_id       uuid REFERENCES replay_targets (id) ON DELETE SET NULL,
    target_url      text NOT NULL,
    scheme          text NOT NULL,
    secret_sealed   bytea,
    status          text NOT NULL DEFAULT 'queued',
    -- Incremented when a worker claims the job, so an attempt interrupted by a crash still
    -- counts (the target may have received it) and the count doubles as a fencing token: a
    -- worker only finishes the job if attempts_made is still the value it claimed.
    attempts_made   integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 1,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- When the current attempt was claimed; a `running` job whose lock is older than the send
    -- timeout plus a margin belongs to a worker that died, and the recovery sweep takes it back.
    locked_at       timestamptz,
    -- Jobs of one bulk replay share a batch and are sent strictly in `position` order: a job is
    -- not claimed while an earlier job of its batch is queued or running.
    batch_id        uuid,
    position        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CONSTRAINT replays_status_check
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    CONSTRAINT replays_max_attempts_check CHECK (max_attempts BETWEEN 1 AND 10),
    CONSTRAINT replays_attempts_made_check CHECK (attempts_made >= 0),
    CONSTRAINT replays_position_check CHECK (position >= 0)
);
-- Claiming: the due queued jobs in order. Partial, so finished history does not slow it down.
CREATE INDEX replays_claim_idx ON replays (next_attempt_at, position) WHERE status = 'queued';
-- "Is an earlier job of this batch still pending?", asked for every claim candidate.
CREATE INDEX replays_batch_pending_idx ON replays (batch_id, position)
    WHERE batch_id IS NOT NULL AND status IN ('queued', 'running');
-- The recovery sweep looks for stale running jobs.
CREATE INDEX replays_running_idx ON replays (locked_at) WHERE status = 'running';
-- History, newest first, per capture and per endpoint.
CREATE INDEX replays_request_idx ON replays (request_id, created_at DESC, id DESC);
CREATE INDEX replays_endpoint_idx ON replays (endpoint_id, created_at DESC, id DESC);

-- Every attempt, including ones interrupted by a crash (error set, no status). Attempts are
-- never addressed on their own, so an identity column orders them without a second uuid.
CREATE TABLE replay_attempts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    replay_id          uuid NOT NULL REFERENCES replays (id) ON DELETE CASCADE,
    started_at         timestamptz NOT NULL,
    -- NULL when unknown (the attempt was interrupted).
    duration_ms        integer,
    status_code        integer,
    -- [[name, value], ...] in arrival order; values that are not UTF-8 converted lossily.
    response_headers   jsonb NOT NULL DEFAULT '[]',
    -- The first 64 KiB of the answer; it is attacker-controlled and shown only as text.
    response_body      bytea NOT NULL DEFAULT '',
    response_truncated boolean NOT NULL DEFAULT false,
    -- Why no response was recorded, in words ("connection refused", "timed out after 20 s").
    error              text
);
CREATE INDEX replay_attempts_replay_idx ON replay_attempts (replay_id, id);
