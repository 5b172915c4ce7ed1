-- Keep captures in one row: compressed inline, out of line only when they cannot fit a page.
--
-- With the default EXTENDED storage a typical 4 KB webhook compresses to about 1.2 KB, but the
-- row still crosses the 2 KB TOAST threshold, so PostgreSQL moves values out to the TOAST table:
-- extra heap and TOAST-index inserts and more WAL on every capture, an extra lookup on every
-- read. And while a MAIN column is still uncompressed, the toaster externalizes every EXTENDED
-- column bigger than a TOAST pointer (path, event type, ...), so it is all the row's variable-
-- length columns or none. With MAIN everywhere, PostgreSQL compresses (lz4 for body and
-- headers) and only moves a value out of line when the compressed row does not fit in a page.
-- Applies to rows written from now on; nothing is rewritten.
ALTER TABLE requests
    ALTER COLUMN method SET STORAGE MAIN,
    ALTER COLUMN path SET STORAGE MAIN,
    ALTER COLUMN query SET STORAGE MAIN,
    ALTER COLUMN http_version SET STORAGE MAIN,
    ALTER COLUMN remote_addr SET STORAGE MAIN,
    ALTER COLUMN headers SET STORAGE MAIN,
    ALTER COLUMN content_type SET STORAGE MAIN,
    ALTER COLUMN body SET STORAGE MAIN,
    ALTER COLUMN provider SET STORAGE MAIN,
    ALTER COLUMN event_type SET STORAGE MAIN,
    ALTER COLUMN event_id SET STORAGE MAIN,
    ALTER COLUMN signature_scheme SET STORAGE MAIN,
    ALTER COLUMN signature_status SET STORAGE MAIN,
    ALTER COLUMN signature_reason SET STORAGE MAIN,
    ALTER COLUMN api_version SET STORAGE MAIN,
    ALTER COLUMN object_id SET STORAGE MAIN,
    ALTER COLUMN object_type SET STORAGE MAIN;
