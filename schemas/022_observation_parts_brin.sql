-- 022: observation_parts trades its primary key for a BRIN index on the date.
--
-- Measured on 200k rows (one full tile-date, the shape ingest COPYs, with the
-- leaf's statement-level scene check): COPY with the 4-column primary key
-- 0.70-0.80 s, with a BRIN index on acquired_on 0.35-0.47 s. The key cost more than
-- decoding and reducing the tile-date together.
--
-- What the key enforced, (scene_id, parcel_id) unique, the writers already ensure:
-- a scene's parts are copied once, in the transaction that inserts its scenes row
-- (a second insert is a duplicate and rolls back), and re-measuring for a new
-- parcel set deletes the old parts in the same transaction, under the scene's claim.
--
-- What the key served, finding one scene's parts (the scenes cascade, re-measuring),
-- BRIN does: in a (season, tile) leaf a date is one scene, and a scene's rows are
-- copied together, so its block ranges are contiguous. BRIN costs next to nothing per
-- insert and new leaves inherit it.
ALTER TABLE observation_parts DROP CONSTRAINT observation_parts_pkey;
CREATE INDEX observation_parts_acquired_on_brin ON observation_parts
    USING brin (acquired_on) WITH (pages_per_range = 32);
