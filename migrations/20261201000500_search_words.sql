-- A search document's `words` now hold each distinct word of the capture once (see
-- `hookvault_store::search_index::search_words`) instead of the whole body and headers: the
-- same trigrams from about a quarter of the text. Text searches look for each word of the
-- searched text with its boundaries, which documents written before would not match, so they
-- are written again: the indexer starts over, and until it has caught up searches scan the
-- captures it has not reached (exact, only slower).
TRUNCATE request_search;
UPDATE search_progress SET xid = 0, seq = 0;

-- The documents compress with lz4 whatever the cluster's default_toast_compression (the embedded
-- cluster's is lz4 already; requests' bodies use it since the first migration).
ALTER TABLE request_search
    ALTER COLUMN doc SET COMPRESSION lz4,
    ALTER COLUMN words SET COMPRESSION lz4;
