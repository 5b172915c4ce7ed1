-- Unordered bulk replays (issue 15): a bulk replay with `"order":"none"` sends its jobs
-- concurrently, each one a chain of its own like a replay of no batch; the batch id stays for
-- progress and listing. Only such jobs are marked, so every existing row keeps its meaning (a
-- job of a batch is sent in its batch's order).
ALTER TABLE replays ADD COLUMN unordered boolean NOT NULL DEFAULT false;
ALTER TABLE replays ADD CONSTRAINT replays_unordered_check
    CHECK (NOT unordered OR batch_id IS NOT NULL);

-- Jobs claimed on their own (no batch, or an unordered batch), by account: the claim walks the
-- accounts that have any (a skip scan over user_id) and takes each one's due jobs oldest first,
-- so one account's thousands of queued jobs never hide another account's.
CREATE INDEX replays_alone_claim_idx ON replays (user_id, next_attempt_at, position)
    WHERE status = 'queued' AND NOT to_cli AND (batch_id IS NULL OR unordered);
DROP INDEX replays_single_claim_idx;
