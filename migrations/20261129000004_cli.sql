-- `hookvault listen`: which CLIs are connected, and replays handed to them.

-- A replay with to_cli = true is not sent by a worker: the endpoint's connected CLI stream
-- claims it, forwards it to the developer's local server and reports the result. Deliveries
-- of live captures that the CLI made on its own are recorded the same way (already finished).
ALTER TABLE replays ADD COLUMN to_cli boolean NOT NULL DEFAULT false;

-- Workers must never claim CLI replays: the claim index only covers the others.
DROP INDEX replays_claim_idx;
CREATE INDEX replays_claim_idx ON replays (next_attempt_at, position)
    WHERE status = 'queued' AND NOT to_cli;
CREATE INDEX replays_cli_queue_idx ON replays (endpoint_id, created_at)
    WHERE status = 'queued' AND to_cli;

-- One row per open `hookvault listen` stream, refreshed by its heartbeat. A row whose
-- last_seen_at is older than a minute belongs to a process that died without cleaning up and
-- is ignored (and deleted by the next connect).
CREATE TABLE cli_sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint_id  uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    forward_to   text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cli_sessions_endpoint_idx ON cli_sessions (endpoint_id, last_seen_at);
