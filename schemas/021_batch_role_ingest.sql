-- 021: the batch role can run ingest.
-- 003 added parcel_tile_digests after 020's grants were written, so mowcheck_batch
-- could not record a tile's pixel-count digest ("permission denied" on the first
-- ingest as that role). And observation_parts_partition (004/005) runs as the table
-- owner: only the batch role, not every login (an inspector), may call it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON parcel_tile_digests TO mowcheck_batch';
    EXECUTE 'REVOKE EXECUTE ON FUNCTION observation_parts_partition(date, text) FROM PUBLIC';
    EXECUTE 'GRANT EXECUTE ON FUNCTION observation_parts_partition(date, text) TO mowcheck_batch';
END;
$$;
