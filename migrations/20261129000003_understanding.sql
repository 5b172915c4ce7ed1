-- Understanding captures: Stripe facts stored at capture time, and the indexes behind search,
-- duplicate detection, related events and the event-order view. Forward-only.
--
-- Everything here is derived from the stored bytes at capture time and never changes them.
-- The columns are nullable without defaults: adding them rewrites nothing, and rows captured
-- before this migration simply have no Stripe facts.

ALTER TABLE requests
    -- Stripe event envelope: `livemode`, `api_version`, `created` (Unix seconds, the sender's
    -- clock, used to spot out-of-order delivery) and the object the event is about
    -- (`data.object.id` / `.object`, or `related_object` for v2 thin events).
    ADD COLUMN livemode      boolean,
    ADD COLUMN api_version   text,
    ADD COLUMN event_created bigint,
    ADD COLUMN object_id     text,
    ADD COLUMN object_type   text;

-- Search by event type, exact (`type:invoice.paid`) or by prefix (`type:invoice.*`, which the
-- query turns into `LIKE 'invoice.%'`). `text_pattern_ops` lets LIKE with a constant prefix use
-- the index whatever the database collation is; equality works with it too. `seq DESC` last so
-- an exact type is read newest first straight from the index. Partial: captures without an
-- event type (plain requests) cost nothing here.
CREATE INDEX requests_endpoint_event_type_idx
    ON requests (endpoint_id, event_type text_pattern_ops, seq DESC)
    WHERE event_type IS NOT NULL;

-- Duplicate deliveries (same event id at the same endpoint, first one = lowest seq) and the
-- `id:` search term.
CREATE INDEX requests_endpoint_event_id_idx
    ON requests (endpoint_id, event_id, seq)
    WHERE event_id IS NOT NULL;

-- "Other events about this object" on the request page.
CREATE INDEX requests_endpoint_object_id_idx
    ON requests (endpoint_id, object_id, seq)
    WHERE object_id IS NOT NULL;

-- `sig:invalid` and friends. Only endpoints with a signature check have a status, so the
-- index stays small; `sig:unchecked` (status NULL) walks the seq index instead.
CREATE INDEX requests_endpoint_signature_idx
    ON requests (endpoint_id, signature_status, seq DESC)
    WHERE signature_status IS NOT NULL;

-- `after:` / `before:` time ranges. Rows are appended in arrival order, so a BRIN index is a
-- few pages for millions of rows and costs next to nothing on the capture path; the planner
-- uses it for narrow, old ranges and walks the seq index for recent ones.
CREATE INDEX requests_received_at_brin ON requests USING brin (received_at);

-- No index on provider: one endpoint rarely mixes many senders, so `provider:` is a cheap
-- filter on the newest-first walk; it is combined with `type:` in practice anyway.

-- JSON-path search (`data.object.customer:cus_123`) parses stored bodies. Bodies are bytes
-- and may be neither UTF-8 nor JSON; this returns NULL for those instead of failing the whole
-- query. STABLE because convert_from depends on the server's conversion settings; PARALLEL
-- UNSAFE because the exception handler starts a subtransaction, which PostgreSQL refuses inside
-- a parallel plan ("cannot start subtransactions during a parallel operation").
CREATE FUNCTION hookvault_try_jsonb(body bytea) RETURNS jsonb
    LANGUAGE plpgsql STABLE STRICT PARALLEL UNSAFE
AS $$
BEGIN
    RETURN convert_from(body, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
    -- `others` does not catch query_canceled, so statement timeouts still stop the search.
    RETURN NULL;
END
$$;
