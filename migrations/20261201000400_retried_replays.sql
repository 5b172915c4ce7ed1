-- "Retry failed" sends a bulk replay's failures again once. Each failed replay names the bulk
-- replay that retried it, set in the transaction that queues the retry (its rows locked), so a
-- second click, a second tab or a second process finds nothing left to retry instead of
-- sending every failure twice.
ALTER TABLE replays ADD COLUMN retried_by uuid;
