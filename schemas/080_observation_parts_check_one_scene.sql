-- 080: the scene check of observation_parts (002, 004) takes a short way for the
-- common case: a statement whose rows all belong to one scene.
--
-- Ingest copies a scene's parts in one COPY (~200k rows per full tile-date), so the
-- check's SELECT DISTINCT over the new rows hashed 200k (scene_id, tile_id,
-- acquired_on) triples to find one. Now the first row's key is looked up in scenes
-- and the rest only compared with it (equality, no hashing); where any row differs,
-- or the key is not a scene's, the check of 004 runs as before, so the rule and its
-- messages are the same. Measured with mowcheck-bench-store (docs/performance.md).
CREATE OR REPLACE FUNCTION observation_parts_check_scenes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    first record;
    bad record;
BEGIN
    SELECT n.scene_id, n.tile_id, n.acquired_on INTO first FROM new_parts n LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM scenes s
               WHERE s.scene_id = first.scene_id AND s.tile_id = first.tile_id
                 AND s.acquired_on = first.acquired_on)
       AND NOT EXISTS (SELECT 1 FROM new_parts n
                       WHERE n.scene_id <> first.scene_id OR n.tile_id <> first.tile_id
                          OR n.acquired_on <> first.acquired_on) THEN
        RETURN NULL;
    END IF;
    SELECT n.scene_id, n.tile_id, n.acquired_on, s.scene_id IS NOT NULL AS known INTO bad
    FROM (SELECT DISTINCT scene_id, tile_id, acquired_on FROM new_parts) n
    LEFT JOIN scenes s ON s.scene_id = n.scene_id
    WHERE s.scene_id IS NULL OR s.tile_id <> n.tile_id OR s.acquired_on <> n.acquired_on
    LIMIT 1;
    IF FOUND THEN
        IF NOT bad.known THEN
            RAISE EXCEPTION 'observation_parts: scene % is not in scenes', bad.scene_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'observation_parts: scene % is not of tile % on %', bad.scene_id,
                        bad.tile_id, bad.acquired_on
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
