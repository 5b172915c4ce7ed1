-- Search on bodies (issue 15): a background indexer fills one search document per capture
-- shortly after it is stored, so the capture path itself stays as lean as before (one more
-- append-only index entry). Searches use the documents' indexes for captures at or below the
-- indexer's progress and scan the bodies of the few captures above it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The indexer walks captures in (transaction, seq) order, the order in which they can no
-- longer change (see 20261130000007_capture_positions.sql).
CREATE INDEX requests_position_idx ON requests (xid, seq);

CREATE TABLE request_search (
    request_id  uuid PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL,
    -- The body parsed as JSON (hookvault_try_jsonb), NULL when it is not JSON.
    doc         jsonb,
    -- The body as text (bytes that are not UTF-8 and NUL become U+FFFD), then every header
    -- name and value on lines of their own: what a free-text search looks for.
    words       text NOT NULL
);
CREATE INDEX request_search_doc_idx ON request_search USING gin (doc jsonb_path_ops);
CREATE INDEX request_search_words_idx ON request_search USING gin (words gin_trgm_ops);

-- Every capture at or below this position (transaction, seq) has its document (or is gone).
CREATE TABLE search_progress (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    xid      bigint NOT NULL,
    seq      bigint NOT NULL
);
INSERT INTO search_progress (xid, seq) VALUES (0, 0);
