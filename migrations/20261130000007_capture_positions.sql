-- Stream positions that never skip a capture (see hookvault_core::position).
--
-- `seq` is taken before commit, so with several writers a capture with a lower seq can become
-- visible after one with a higher seq. Readers that follow captures (the dashboard's live list,
-- the CLI stream) order by (xid, seq) instead, where xid is the writing transaction, and only
-- read below the oldest transaction still running: below it no capture can still appear.
-- Existing rows get the migration's own transaction id: they are all older than any reader.
ALTER TABLE requests ADD COLUMN xid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);

CREATE INDEX requests_endpoint_position_idx ON requests (endpoint_id, xid, seq);
