-- Replays handed to `hookvault listen` while none is connected wait for one, up to a day
-- (issue 17). The sweep that fails the ones older than that finds them by age across every
-- endpoint; the existing queue index leads with endpoint_id, so it gets its own small index.
CREATE INDEX replays_cli_waiting_idx ON replays (created_at)
    WHERE status = 'queued' AND to_cli;
