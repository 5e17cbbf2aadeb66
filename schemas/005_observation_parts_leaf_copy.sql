-- 005: a scene's parts are copied straight into their leaf partition.
--
-- COPY into the partitioned observation_parts inserts row by row: PostgreSQL
-- (up to 16 at least) turns off COPY's batched inserts into a partitioned table
-- that has a statement trigger with a transition table (004's check of the scenes).
-- Measured on a 200k-row tile-date (2 busy shared cores): ~1.4 s through the
-- parent against ~0.9 s into the leaf, which is what one plain table took before
-- 004. So ingest copies into the leaf that observation_parts_partition returns;
-- each leaf gets the same statement-level check of its new rows (a trigger on the
-- parent does not fire for rows written to a leaf directly, and the leaf's does not
-- fire for rows written through the parent), and the batch role, which writes the
-- leaf by name, gets the rights on it that 020 gives it on observation_parts.

-- The check, the rights and (where missing) nothing else: for a new leaf and for
-- the leaves 004 made.
CREATE FUNCTION observation_parts_leaf_setup(leaf regclass)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_partition_tree('public.observation_parts')
                   WHERE relid = leaf AND isleaf AND level > 0) THEN
        RAISE EXCEPTION 'observation_parts_leaf_setup: % is not a partition of observation_parts',
                        leaf;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                   WHERE tgrelid = leaf AND tgname = 'observation_parts_leaf_scene_insert') THEN
        EXECUTE format('CREATE TRIGGER observation_parts_leaf_scene_insert AFTER INSERT ON %s '
                       'REFERENCING NEW TABLE AS new_parts FOR EACH STATEMENT '
                       'EXECUTE FUNCTION public.observation_parts_check_scenes()', leaf);
        EXECUTE format('CREATE TRIGGER observation_parts_leaf_scene_update AFTER UPDATE ON %s '
                       'REFERENCING NEW TABLE AS new_parts FOR EACH STATEMENT '
                       'EXECUTE FUNCTION public.observation_parts_check_scenes()', leaf);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch') THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO mowcheck_batch', leaf);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_inspector') THEN
        EXECUTE format('GRANT SELECT ON %s TO mowcheck_inspector', leaf);
    END IF;
END
$$;

-- It grants rights: only the owner's functions call it.
REVOKE EXECUTE ON FUNCTION observation_parts_leaf_setup(regclass) FROM PUBLIC;

-- 004's function, the same but for the setup of a leaf it makes.
CREATE OR REPLACE FUNCTION observation_parts_partition(p_acquired_on date, p_tile_id text)
RETURNS regclass
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    season      integer;
    season_name text;
    leaf_name   text;
    leaf        regclass;
BEGIN
    IF p_acquired_on IS NULL OR NOT isfinite(p_acquired_on) OR p_tile_id IS NULL
       OR p_tile_id = '' THEN
        RAISE EXCEPTION 'observation_parts_partition: a finite date and a tile are needed '
                        '(got %, %)', p_acquired_on, p_tile_id;
    END IF;
    season := extract(year FROM p_acquired_on)::integer;
    IF season < 1 OR season > 9998 THEN
        RAISE EXCEPTION 'observation_parts_partition: date % of tile % is out of range',
                        p_acquired_on, p_tile_id;
    END IF;
    season_name := format('observation_parts_%s', season);
    leaf_name := season_name || '_' ||
                 CASE WHEN p_tile_id ~ '^[0-9A-Z]{1,40}$' THEN lower(p_tile_id)
                      ELSE 'x' || left(md5(p_tile_id), 16) END;
    -- pg_class with this statement's snapshot, not to_regclass (see 004)
    SELECT c.oid INTO leaf FROM pg_class c
    WHERE c.relname = leaf_name AND c.relnamespace = 'public'::regnamespace;
    IF leaf IS NOT NULL THEN
        RETURN leaf;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('observation_parts season ' || season, 0));
    SELECT c.oid INTO leaf FROM pg_class c
    WHERE c.relname = leaf_name AND c.relnamespace = 'public'::regnamespace;
    IF leaf IS NOT NULL THEN
        RETURN leaf;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                   WHERE c.relname = season_name AND c.relnamespace = 'public'::regnamespace) THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.observation_parts '
                       'FOR VALUES FROM (%L) TO (%L) PARTITION BY LIST (tile_id)',
                       season_name, make_date(season, 1, 1), make_date(season + 1, 1, 1));
    END IF;
    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES IN (%L)',
                   leaf_name, season_name, p_tile_id);
    leaf := to_regclass(format('public.%I', leaf_name));
    PERFORM observation_parts_leaf_setup(leaf);
    RETURN leaf;
END
$$;

SELECT count(observation_parts_leaf_setup(relid)) AS leaves
FROM pg_partition_tree('observation_parts')
WHERE isleaf;
