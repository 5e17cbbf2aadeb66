-- 004: observation_parts partitioned by season, then by tile.
--
-- observation_parts grows by ~200k rows per tile-date all season long, and every
-- nightly worker writes one tile's new dates. Partitioned by the year of
-- acquisition (RANGE on acquired_on, one partition per season) and under it by tile
-- (LIST on tile_id), a nightly COPY writes into one small leaf
-- (observation_parts_2026_35vlf), its index stays the size of one tile-season, a
-- query that names a season reads that season's leaves only (every reader filters
-- on acquired_on), and a past season can be detached, archived or dropped whole.
-- The partition keys are stored in each row (they are the scene's tile and date;
-- the trigger below checks that they agree with scenes).
--
-- Partitions are created on demand by observation_parts_partition(date, tile),
-- which ingest calls in a short transaction of its own just before a scene's
-- transaction (not inside it: creating a partition locks its parent exclusively
-- until commit, which would hold every other worker of the season for a whole
-- scene). It is SECURITY DEFINER so that the batch role, which owns no table,
-- can add partitions to the table the migrations' owner owns.
--
-- Existing rows are moved: this file may run right after 003 (a new database) or
-- after 020 (an existing one: migrations run in number order, missing ones too),
-- so it also re-applies 020's grants on what it recreates where the roles exist.

-- The old table, its triggers and the view on it make way.
DROP VIEW observations;
ALTER TABLE observation_parts RENAME TO observation_parts_unpartitioned;
ALTER INDEX observation_parts_pkey RENAME TO observation_parts_unpartitioned_pkey;

CREATE TABLE observation_parts (
    scene_id    text NOT NULL,
    parcel_id   text NOT NULL,
    -- (the constraints keep 001's names: they are per table, the old one is still here)
    n_total     bigint NOT NULL CONSTRAINT observation_parts_n_total_check
                CHECK (n_total >= 0),                  -- parcel pixels the tile owns
    n_valid     bigint NOT NULL CONSTRAINT observation_parts_check
                CHECK (n_valid >= 0 AND n_valid <= n_seen),
    n_seen      bigint NOT NULL CONSTRAINT observation_parts_n_seen_check
                CHECK (n_seen >= 0),                   -- pixels with data, clear or not
    sum_q       bigint NOT NULL,                       -- sum of q over valid pixels
    sum_q2      bigint NOT NULL CONSTRAINT observation_parts_sum_q2_check
                CHECK (sum_q2 >= 0),                   -- sum of q^2 over valid pixels
    tile_id     text NOT NULL,                         -- the scene's tile (partition key)
    acquired_on date NOT NULL,                         -- the scene's date (partition key)
    -- (scene_id, parcel_id) is unique: a scene has one tile and date. A primary key
    -- of a partitioned table must hold the partition keys.
    PRIMARY KEY (scene_id, parcel_id, acquired_on, tile_id)
) PARTITION BY RANGE (acquired_on);

-- The partition of observation_parts that takes a scene of this tile and date,
-- made where missing (season partition observation_parts_YYYY, FROM Jan 1 TO the
-- next Jan 1, and its leaf observation_parts_YYYY_<tile>). Safe to call from
-- several sessions at once: creators of a season take turns on an advisory lock
-- and look again under it. Returns the leaf.
CREATE FUNCTION observation_parts_partition(p_acquired_on date, p_tile_id text)
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
    -- An MGRS tile (35VLF) names its leaf in lower case; any other id a digest, so
    -- that two ids never share a leaf name (e.g. '35vlf' next to '35VLF').
    leaf_name := season_name || '_' ||
                 CASE WHEN p_tile_id ~ '^[0-9A-Z]{1,40}$' THEN lower(p_tile_id)
                      ELSE 'x' || left(md5(p_tile_id), 16) END;
    -- Looked up in pg_class with this statement's snapshot, not with to_regclass:
    -- its cache would still say "absent" after the session we wait for below made it.
    SELECT c.oid INTO leaf FROM pg_class c
    WHERE c.relname = leaf_name AND c.relnamespace = 'public'::regnamespace;
    IF leaf IS NOT NULL THEN
        RETURN leaf;  -- every scene but a tile's first of the season
    END IF;
    -- One key per season: every creation in a season locks the season partition
    -- anyway, and two first scenes of one season must not both create the season
    -- partition (CREATE TABLE IF NOT EXISTS is not safe between sessions either).
    PERFORM pg_advisory_xact_lock(hashtextextended('observation_parts season ' || season, 0));
    SELECT c.oid INTO leaf FROM pg_class c
    WHERE c.relname = leaf_name AND c.relnamespace = 'public'::regnamespace;
    IF leaf IS NOT NULL THEN
        RETURN leaf;  -- made by the session we waited for
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                   WHERE c.relname = season_name AND c.relnamespace = 'public'::regnamespace) THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.observation_parts '
                       'FOR VALUES FROM (%L) TO (%L) PARTITION BY LIST (tile_id)',
                       season_name, make_date(season, 1, 1), make_date(season + 1, 1, 1));
    END IF;
    EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES IN (%L)',
                   leaf_name, season_name, p_tile_id);
    RETURN to_regclass(format('public.%I', leaf_name));
END
$$;

-- The rows move into their partitions; none may be lost (a part without its scene
-- cannot exist since 002, but it would be dropped by the join: refuse instead).
SELECT count(observation_parts_partition(acquired_on, tile_id)) AS partitions
FROM (SELECT DISTINCT date_trunc('year', acquired_on)::date AS acquired_on, tile_id
      FROM scenes) d;

INSERT INTO observation_parts (scene_id, parcel_id, n_total, n_valid, n_seen, sum_q, sum_q2,
                               tile_id, acquired_on)
SELECT p.scene_id, p.parcel_id, p.n_total, p.n_valid, p.n_seen, p.sum_q, p.sum_q2,
       s.tile_id, s.acquired_on
FROM observation_parts_unpartitioned p
JOIN scenes s USING (scene_id);

DO $$
DECLARE
    n_old bigint := (SELECT count(*) FROM observation_parts_unpartitioned);
    n_new bigint := (SELECT count(*) FROM observation_parts);
BEGIN
    IF n_old <> n_new THEN
        RAISE EXCEPTION 'observation_parts: % rows, % moved into partitions (parts without a '
                        'scene?); nothing changed', n_old, n_new;
    END IF;
END
$$;

DROP TABLE observation_parts_unpartitioned;
ANALYZE observation_parts;

-- 002's rule, checked once per statement over all new rows, now also for the keys:
-- a part's tile and date are its scene's.
CREATE OR REPLACE FUNCTION observation_parts_check_scenes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
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

CREATE TRIGGER observation_parts_scene_insert
    AFTER INSERT ON observation_parts
    REFERENCING NEW TABLE AS new_parts
    FOR EACH STATEMENT EXECUTE FUNCTION observation_parts_check_scenes();
CREATE TRIGGER observation_parts_scene_update
    AFTER UPDATE ON observation_parts
    REFERENCING NEW TABLE AS new_parts
    FOR EACH STATEMENT EXECUTE FUNCTION observation_parts_check_scenes();

-- Deleting a scene deletes its parts, in its own leaf only; a scene's id, tile and
-- date cannot change (its parts are filed under them).
CREATE OR REPLACE FUNCTION scenes_cascade_parts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM observation_parts
        WHERE scene_id = OLD.scene_id AND tile_id = OLD.tile_id
          AND acquired_on = OLD.acquired_on;
        RETURN OLD;
    END IF;
    IF NEW.scene_id IS DISTINCT FROM OLD.scene_id OR NEW.tile_id IS DISTINCT FROM OLD.tile_id
       OR NEW.acquired_on IS DISTINCT FROM OLD.acquired_on THEN
        RAISE EXCEPTION 'scenes: scene_id, tile_id and acquired_on of % cannot change',
                        OLD.scene_id;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER scenes_parts_cascade ON scenes;
CREATE TRIGGER scenes_parts_cascade
    BEFORE DELETE OR UPDATE OF scene_id, tile_id, acquired_on ON scenes
    FOR EACH ROW EXECUTE FUNCTION scenes_cascade_parts();

-- 001's view, unchanged in what it returns. The join names the partition keys and
-- the date is the part's own, so that a filter on acquired_on (a season) reaches
-- observation_parts and prunes its partitions.
CREATE VIEW observations AS
WITH sums AS (
    SELECT s.set_hash, p.parcel_id, p.acquired_on,
           sum(p.n_total) AS parts_n_total,
           sum(p.n_valid) AS n_valid,
           sum(p.n_seen)  AS n_seen,
           sum(p.sum_q)   AS sum_q,
           sum(p.sum_q2)  AS sum_q2,
           count(*)       AS n_parts
    FROM observation_parts p
    JOIN scenes s ON s.scene_id = p.scene_id AND s.tile_id = p.tile_id
                 AND s.acquired_on = p.acquired_on
    GROUP BY s.set_hash, p.parcel_id, p.acquired_on
), sizes AS (
    SELECT set_hash, parcel_id, sum(n_pixels) AS n_pixels
    FROM parcel_tiles
    GROUP BY set_hash, parcel_id
), joined AS (
    SELECT o.*, coalesce(z.n_pixels, o.parts_n_total) AS n_total
    FROM sums o
    LEFT JOIN sizes z ON z.set_hash = o.set_hash AND z.parcel_id = o.parcel_id
)
SELECT set_hash, parcel_id, acquired_on, n_valid, n_seen, n_total, sum_q, sum_q2, n_parts,
       CASE WHEN n_valid > 0 THEN sum_q / (n_valid * 10000) END AS ndvi,
       -- std = sqrt(sum_q2/n - (sum_q/n)^2) / 10000 = sqrt(n*sum_q2 - sum_q^2) / (n * 10000)
       CASE WHEN n_valid > 0
            THEN sqrt(greatest(0, n_valid * sum_q2 - sum_q * sum_q)) / (n_valid * 10000) END
           AS ndvi_std,
       CASE WHEN n_total > 0 THEN n_valid / n_total END AS valid_share
FROM joined;

-- 020's grants on what was recreated (where 020 ran before this file). Reads and
-- writes go through observation_parts, whose privileges are the ones checked, so
-- partitions made later need none of their own.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch')
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_inspector') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON observation_parts TO mowcheck_batch';
    EXECUTE 'GRANT SELECT ON observation_parts, observations TO mowcheck_batch, mowcheck_inspector';
END;
$$;
