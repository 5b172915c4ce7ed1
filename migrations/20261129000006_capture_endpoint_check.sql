-- Captures check their endpoint once per batch instead of once per row.
--
-- The foreign key from requests to endpoints ran a referential-integrity query for every
-- captured row (an executor start-up and a row lock each time): about a tenth of the
-- database's work on the capture path. The capture insert now does the same check itself,
-- once per batch: it locks the batch's endpoints FOR KEY SHARE (as the foreign key did) and
-- inserts only the rows whose endpoint exists, so a capture for a deleted endpoint is not
-- stored and is answered 404. The cascade moves to a trigger: deleting an endpoint (also
-- through a deleted user) first waits for batches holding its lock to commit, then deletes
-- its captures, those included.
ALTER TABLE requests DROP CONSTRAINT requests_endpoint_id_fkey;

CREATE FUNCTION delete_endpoint_requests() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM requests WHERE endpoint_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoints_delete_requests
    AFTER DELETE ON endpoints
    FOR EACH ROW EXECUTE FUNCTION delete_endpoint_requests();
