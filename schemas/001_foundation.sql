-- 001 foundation: runs, parcel sets, tiles, scenes and per-parcel observations.
--
-- Migrations are applied by mowcheck (store_migrate.c), each file in its own
-- transaction (so no BEGIN/COMMIT here), and recorded in schema_migrations with
-- the file's SHA-256: never edit an applied file, add the next number instead.
--
-- NDVI is stored as exact integer sums of fixed-point values q = round(10000 * ndvi)
-- (KERNEL_NDVI_SCALE), so that parts from several tiles add up exactly and every
-- derived number is computed the same way on every run.

-- One execution of a mowcheck command.
CREATE TABLE runs (
    run_id      bigserial PRIMARY KEY,
    command     text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'failed', 'partial')),
    summary     jsonb,
    host        text,
    pid         integer,
    version     text
);

-- A parcel file as ingested: its content hash (file + id field + inner buffer) keys
-- the label rasters; exactly one set is current.
CREATE TABLE parcel_sets (
    set_hash      text PRIMARY KEY,
    source_path   text NOT NULL,
    id_field      text NOT NULL,
    n_parcels     bigint NOT NULL CHECK (n_parcels >= 0),
    is_current    boolean NOT NULL DEFAULT false,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX parcel_sets_one_current ON parcel_sets (is_current) WHERE is_current;

-- The 10 m grid of a Sentinel-2 tile (GDAL geotransform order).
CREATE TABLE tiles (
    tile_id       text PRIMARY KEY,
    epsg          integer NOT NULL CHECK (epsg > 0),
    geotransform  double precision[] NOT NULL CHECK (array_length(geotransform, 1) = 6),
    width         integer NOT NULL CHECK (width > 0),
    height        integer NOT NULL CHECK (height > 0)
);

-- Pixels of each parcel that each tile owns (after the inner buffer; every ground
-- pixel has exactly one owning tile). Their sum over the tiles is the parcel's size
-- in pixels: the n_total of its observations.
CREATE TABLE parcel_tiles (
    set_hash   text NOT NULL REFERENCES parcel_sets (set_hash) ON DELETE CASCADE,
    tile_id    text NOT NULL REFERENCES tiles (tile_id),
    parcel_id  text NOT NULL,
    n_pixels   bigint NOT NULL CHECK (n_pixels >= 0),
    PRIMARY KEY (set_hash, parcel_id, tile_id)
);

-- An ingested scene: one per tile and acquisition date (a second scene of the same
-- tile-date is a duplicate and is refused).
CREATE TABLE scenes (
    scene_id               text PRIMARY KEY,
    tile_id                text NOT NULL REFERENCES tiles (tile_id),
    acquired_on            date NOT NULL,
    satellite              text NOT NULL,
    sequence               integer NOT NULL DEFAULT 0,
    processing_baseline    text,
    reflectance_offset_dn  integer NOT NULL,
    path                   text NOT NULL,
    set_hash               text NOT NULL REFERENCES parcel_sets (set_hash),
    run_id                 bigint REFERENCES runs (run_id),
    ingested_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tile_id, acquired_on)
);
CREATE INDEX scenes_acquired_on ON scenes (acquired_on);

-- Scenes refused (unreadable, band missing, ...), one row per path; a later night
-- retries them, and resolved_at is set when one is ingested after all.
CREATE TABLE scene_rejections (
    path          text PRIMARY KEY,
    scene_id      text,
    reason        text NOT NULL,
    first_run_id  bigint REFERENCES runs (run_id),
    last_run_id   bigint REFERENCES runs (run_id),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    n_seen        integer NOT NULL DEFAULT 1 CHECK (n_seen >= 1),
    resolved_at   timestamptz
);

-- The statistics of one parcel in one scene (the pixels that scene's tile owns).
-- Additive: the parts of one parcel from the tiles of one date sum to its observation.
CREATE TABLE observation_parts (
    scene_id   text NOT NULL REFERENCES scenes (scene_id) ON DELETE CASCADE,
    parcel_id  text NOT NULL,
    n_total    bigint NOT NULL CHECK (n_total >= 0),  -- parcel pixels the tile owns
    n_valid    bigint NOT NULL CHECK (n_valid >= 0 AND n_valid <= n_seen),
    n_seen     bigint NOT NULL CHECK (n_seen >= 0),   -- pixels with data, clear or not
    sum_q      bigint NOT NULL,                       -- sum of q over valid pixels
    sum_q2     bigint NOT NULL CHECK (sum_q2 >= 0),   -- sum of q^2 over valid pixels
    PRIMARY KEY (scene_id, parcel_id)
);
CREATE INDEX observation_parts_parcel ON observation_parts (parcel_id);

-- One observation per (parcel set, parcel, acquisition date): the parts of all tiles
-- of that date added up. n_total is the parcel's size over ALL tiles of its set (from
-- parcel_tiles), so a parcel seen only partly on a date has a smaller valid_share;
-- where parcel_tiles has no row for the parcel, the parts' own n_total is used.
-- Sums are numeric (exact). ndvi and ndvi_std are NULL where n_valid = 0.
CREATE VIEW observations AS
WITH sums AS (
    SELECT s.set_hash, p.parcel_id, s.acquired_on,
           sum(p.n_total) AS parts_n_total,
           sum(p.n_valid) AS n_valid,
           sum(p.n_seen)  AS n_seen,
           sum(p.sum_q)   AS sum_q,
           sum(p.sum_q2)  AS sum_q2,
           count(*)       AS n_parts
    FROM observation_parts p
    JOIN scenes s USING (scene_id)
    GROUP BY s.set_hash, p.parcel_id, s.acquired_on
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
