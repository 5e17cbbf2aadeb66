-- 030 every parcel of a parcel set, and the overlaps between its parcels.
--
-- parcel_tiles lists only the parcels a tile holds pixels of. A parcel with no
-- pixel left after the inner buffer, one whose geometry was refused, and one whose
-- ground other parcels cover wholly were in no table at all: decide never asked
-- the registry about them and their claims vanished from the payment feed.
--
-- parcel_set_members: one row per parcel of the file, written once per set (the
--   set's hash covers ids and geometries). refused: why the geometry was refused
--   (NULL: accepted). decide asks the registry about every member.
-- parcel_overlaps: for each parcel of the set that loses more than the setting
--   parcel_overlap_share of its area to other parcels (to one, or to several
--   together), a row per parcel overlapping it; share is the part of parcel_id's own
--   area that other_parcel_id covers. Such ground counts for neither parcel, so the
--   parcel's claims are for a person to check.
CREATE TABLE parcel_set_members (
    set_hash  text NOT NULL REFERENCES parcel_sets (set_hash) ON DELETE CASCADE,
    parcel_id text NOT NULL,
    refused   text,
    PRIMARY KEY (set_hash, parcel_id)
);

CREATE TABLE parcel_overlaps (
    set_hash        text NOT NULL REFERENCES parcel_sets (set_hash) ON DELETE CASCADE,
    parcel_id       text NOT NULL,
    other_parcel_id text NOT NULL,
    share           double precision NOT NULL CHECK (share > 0 AND share <= 1),
    PRIMARY KEY (set_hash, parcel_id, other_parcel_id)
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT SELECT, INSERT, DELETE ON parcel_set_members, parcel_overlaps TO mowcheck_batch';
    EXECUTE 'GRANT SELECT ON parcel_set_members, parcel_overlaps TO mowcheck_inspector';
END;
$$;
