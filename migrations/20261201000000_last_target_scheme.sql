-- A remembered saved target has no scheme of its own (the saved target's is used): NULL, not
-- an empty string, so that every stored scheme is a hookvault_core::signing::Scheme name.
ALTER TABLE endpoint_last_targets ALTER COLUMN scheme DROP NOT NULL;
UPDATE endpoint_last_targets SET scheme = NULL WHERE target_id IS NOT NULL;
ALTER TABLE endpoint_last_targets
    ADD CONSTRAINT endpoint_last_targets_scheme CHECK ((target_url IS NULL) = (scheme IS NULL));
