-- 050: deliveries an operator has acknowledged as permanently bad
-- (`mowcheck scenes ignore SCENE --reason TEXT`). A refused scene listed here is still
-- refused, but no longer raises the exit code of every night; who and why are kept.
-- `scene` is what the operator named: a scene id (S2B_35VMF_20260524_0_L2A) or the
-- delivery's path or folder name.
CREATE TABLE scene_ignores (
    scene       text PRIMARY KEY,
    reason      text NOT NULL CHECK (length(btrim(reason)) > 0),
    ignored_by  text NOT NULL DEFAULT current_user,
    ignored_at  timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT SELECT, INSERT, UPDATE ON scene_ignores TO mowcheck_batch';
END;
$$;
