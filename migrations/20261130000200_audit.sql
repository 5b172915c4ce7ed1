-- Handler audits started from the dashboard or the API (issue 14): nine probes built from one
-- capture and sent to the user's handler through the guarded client. Forward-only.

CREATE TABLE audits (
    id          uuid PRIMARY KEY,
    -- Redundant with the capture's endpoint, kept so every query is scoped by owner directly.
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    -- Retention deleting a capture deletes its audits with it.
    request_id  uuid NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    target_url  text NOT NULL,
    -- A hookvault_core::signing::Scheme name. The secret is never stored: it lives in memory
    -- for the minute the audit runs.
    scheme      text NOT NULL,
    status      text NOT NULL DEFAULT 'running',
    -- The report as `hookvault audit --json` prints it (crates/core/src/audit/report.schema.json),
    -- set when the audit finishes; NULL while running or when it could not run.
    report      jsonb,
    -- Why an audit ended without a report (the server stopped while it ran).
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CONSTRAINT audits_status_check CHECK (status IN ('running', 'passed', 'failed', 'error'))
);
-- A capture's audits, newest first.
CREATE INDEX audits_request_idx ON audits (request_id, created_at DESC, id DESC);
-- One running audit per user, so audits cannot be turned into a flood of requests to a host.
CREATE UNIQUE INDEX audits_one_running_idx ON audits (user_id) WHERE status = 'running';
