-- 003: a digest of each (parcel set, tile)'s pixel counts, so that a night whose
-- label raster came from the cache does not rewrite 200k identical rows
-- (that rewrite was a quarter of a one-scene ingest; scripts/bench-ingest).
CREATE TABLE parcel_tile_digests (
    set_hash  text NOT NULL,
    tile_id   text NOT NULL,
    digest    text NOT NULL,   -- SHA-256 hex of "parcel_id\tn_pixels\n" in the order stored
    n_parcels integer NOT NULL,
    PRIMARY KEY (set_hash, tile_id)
);
