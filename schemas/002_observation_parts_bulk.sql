-- 002: observation_parts loads in bulk (one COPY of ~200k rows per full tile-date).
--
-- A row-level foreign key checks each of those rows against scenes one by one,
-- which made a full tile-date's COPY about 2.5x slower (measured: ~5 s against ~2 s
-- on the 2-core test machine). The same rule is kept, checked once per statement
-- over all new rows, and the cascade on delete is a trigger on scenes.
-- The index on parcel_id alone goes too: nothing looks parts up by parcel alone
-- (the series, the decisions and the reports read whole seasons), and it cost
-- another ~0.7 s per tile-date. A later migration may add what a new query needs.

ALTER TABLE observation_parts DROP CONSTRAINT observation_parts_scene_id_fkey;
DROP INDEX observation_parts_parcel;

CREATE FUNCTION observation_parts_check_scenes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT n.scene_id INTO missing
    FROM (SELECT DISTINCT scene_id FROM new_parts) n
    WHERE NOT EXISTS (SELECT 1 FROM scenes s WHERE s.scene_id = n.scene_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'observation_parts: scene % is not in scenes', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER observation_parts_scene_insert
    AFTER INSERT ON observation_parts
    REFERENCING NEW TABLE AS new_parts
    FOR EACH STATEMENT EXECUTE FUNCTION observation_parts_check_scenes();
CREATE TRIGGER observation_parts_scene_update
    AFTER UPDATE ON observation_parts
    REFERENCING NEW TABLE AS new_parts
    FOR EACH STATEMENT EXECUTE FUNCTION observation_parts_check_scenes();

-- Deleting a scene deletes its parts; renaming a scene is refused.
CREATE FUNCTION scenes_cascade_parts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM observation_parts WHERE scene_id = OLD.scene_id;
        RETURN OLD;
    END IF;
    IF NEW.scene_id IS DISTINCT FROM OLD.scene_id THEN
        RAISE EXCEPTION 'scenes: scene_id % cannot change', OLD.scene_id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER scenes_parts_cascade
    BEFORE DELETE OR UPDATE OF scene_id ON scenes
    FOR EACH ROW EXECUTE FUNCTION scenes_cascade_parts();
