-- Re-checking the signatures of an endpoint's existing captures after its signature check is
-- set, changed or cleared (issue 17). One row per endpoint: a newer change bumps `generation`
-- and restarts the work, so a run for an older secret stops at its next page. `after_seq` is
-- the cursor (captures are re-checked in seq order), so a run interrupted by a restart resumes
-- where it was; `total` and `done` are the progress the endpoint page shows.
CREATE TABLE signature_rechecks (
    endpoint_id uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    generation  bigint NOT NULL DEFAULT 1,
    after_seq   bigint NOT NULL DEFAULT 0,
    total       bigint NOT NULL DEFAULT 0,
    done        bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- The runs a starting server resumes.
CREATE INDEX signature_rechecks_unfinished_idx ON signature_rechecks (started_at)
    WHERE finished_at IS NULL;
