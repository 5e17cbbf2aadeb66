-- 023: NDMI from the optional B11 (SWIR 1.6 um, 20 m) band.
--
-- A scene with B11.tif gives each parcel, beside the NDVI sums, the count of its
-- valid pixels that have SWIR data (n_moist) and the sum of their fixed-point NDMI
-- = (nir - swir) / (nir + swir) * 10000 (sum_m), accumulated by the same kernels.
-- The detector's season model uses the mean NDMI of the clear observations (grass
-- left standing dries out into litter; mown grass stays greener).
--
-- Both columns are NULL for parts of scenes without B11 (and for every part stored
-- before this migration): NULL costs one bit of the row's null bitmap, where two
-- zeros would cost 16 bytes a row on scenes that have no SWIR at all.
ALTER TABLE observation_parts
    ADD COLUMN n_moist bigint,
    ADD COLUMN sum_m bigint;

-- Whether the scene was measured with B11. A scene stored without it (before this
-- migration, or delivered before its B11) is measured again once its folder has
-- B11.tif, so a season does not stay half without NDMI.
ALTER TABLE scenes ADD COLUMN has_swir boolean NOT NULL DEFAULT false;

-- 004's view with two columns added at the end (CREATE OR REPLACE keeps the grants
-- and may only append). sum() ignores the NULLs of parts without B11, so a parcel
-- split over two tiles of which one has B11 gets the NDMI of the pixels that have it.
CREATE OR REPLACE VIEW observations AS
WITH sums AS (
    SELECT s.set_hash, p.parcel_id, p.acquired_on,
           sum(p.n_total) AS parts_n_total,
           sum(p.n_valid) AS n_valid,
           sum(p.n_seen)  AS n_seen,
           sum(p.sum_q)   AS sum_q,
           sum(p.sum_q2)  AS sum_q2,
           count(*)       AS n_parts,
           coalesce(sum(p.n_moist), 0) AS n_moist,
           sum(p.sum_m)   AS sum_m
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
       CASE WHEN n_total > 0 THEN n_valid / n_total END AS valid_share,
       n_moist,
       CASE WHEN n_moist > 0 THEN sum_m / (n_moist * 10000) END AS ndmi
FROM joined;
