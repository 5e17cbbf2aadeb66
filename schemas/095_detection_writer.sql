-- The detect run that stored detection results last.
--
-- A detect run with a state file between nights (pipeline/cli/detect_state.c) leaves
-- out the parcel-seasons whose stored rows it believes unchanged since the run that
-- wrote them. That belief holds only if no other run stored detections since: two
-- detect runs can overlap (two `mowcheck run` at once, or detects with different
-- season filters, which keep different state files), and one that started earlier may
-- store later. Every store of detections records its run here, in the same transaction
-- and under the same advisory lock; a run that left rows out checks, under that lock,
-- that the last writer is the run its state names, and otherwise stores everything.
CREATE TABLE detection_writer (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    run_id   bigint NOT NULL REFERENCES runs (run_id)
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch') THEN
        EXECUTE 'GRANT SELECT, INSERT, UPDATE ON detection_writer TO mowcheck_batch';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_inspector') THEN
        EXECUTE 'GRANT SELECT ON detection_writer TO mowcheck_inspector';
    END IF;
END;
$$;
