-- Fair replay workers: a claim skips accounts that already have their share of replays in
-- flight, which it counts through this index of running jobs per account.
CREATE INDEX replays_user_running_idx ON replays (user_id) WHERE status = 'running';
