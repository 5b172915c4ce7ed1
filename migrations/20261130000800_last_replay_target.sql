-- The last replay target used from the dashboard for each endpoint (issue 17): the replay form
-- is pre-filled with it and "Replay to …" sends there in one click. Either a saved target or a
-- URL with its scheme and secret; that secret is sealed with the server key and bound to the
-- endpoint's id (the row's key), like every stored secret. Deleting the saved target or the
-- endpoint forgets it.
CREATE TABLE endpoint_last_targets (
    endpoint_id   uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id     uuid REFERENCES replay_targets (id) ON DELETE CASCADE,
    target_url    text,
    -- A hookvault_core::signing::Scheme name.
    scheme        text NOT NULL,
    secret_sealed bytea,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT endpoint_last_targets_one_kind CHECK ((target_id IS NULL) <> (target_url IS NULL))
);
