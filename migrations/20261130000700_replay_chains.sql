-- Batched replay claims (issue 15): one statement finds every claimable chain. Heads of bulk
-- batches come from replays_batch_pending_idx (one probe per pending batch); jobs that belong
-- to no batch are found here without walking past the queued jobs of large batches.
CREATE INDEX replays_single_claim_idx ON replays (next_attempt_at)
    WHERE status = 'queued' AND batch_id IS NULL AND NOT to_cli;
