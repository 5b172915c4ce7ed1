-- Plans, quotas, usage and retention (issue 12).

-- A plan's limits. The defaults below are the free and pro plans; an operator's plans file
-- (`hookvault serve --plans FILE`) upserts rows at start.
CREATE TABLE plans (
    name               text PRIMARY KEY,
    endpoints          integer NOT NULL,
    captures_per_month bigint NOT NULL,
    retention_days     integer NOT NULL,
    max_body_bytes     integer NOT NULL,
    replays_per_day    integer NOT NULL,
    listen_streams     integer NOT NULL,
    CONSTRAINT plans_limits_check CHECK (endpoints >= 0 AND captures_per_month >= 0
        AND retention_days >= 1 AND max_body_bytes >= 0 AND replays_per_day >= 0
        AND listen_streams >= 0)
);
INSERT INTO plans VALUES
    ('free', 10, 20000, 7, 1048576, 2000, 3),
    ('pro', 200, 2000000, 30, 10485760, 200000, 30);

-- Every account is on a plan (new ones on `free`); a suspended account has a reason.
ALTER TABLE users
    ADD COLUMN plan text NOT NULL DEFAULT 'free' REFERENCES plans (name) ON UPDATE CASCADE,
    ADD COLUMN suspended_reason text;

-- Captures counted per account and calendar month (UTC), by the capture insert itself: the
-- statement that stores a batch also adds to this row and stores only what the plan still
-- allows, so every process on the database shares one exact count. `quota` is the plan's limit
-- when the row was last counted; `granted` is how many of the last batch were allowed.
CREATE TABLE capture_usage (
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month    date NOT NULL,
    captures bigint NOT NULL,
    quota    bigint NOT NULL,
    granted  bigint NOT NULL,
    PRIMARY KEY (user_id, month)
);

-- Replays queued per account and UTC day, counted the same way.
CREATE TABLE replay_usage (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     date NOT NULL,
    replays bigint NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- Retention finds expired captures with the BRIN index on requests (received_at) that the
-- understanding migration already made.
