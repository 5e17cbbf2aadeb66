-- 040: reviews that are accountable, and farmer notices recorded when first issued.
--
-- reviews: every review is kept (the table was already append-only). New columns:
--   db_login          the database login that recorded the review (session_user,
--                     set by the trigger below whatever the client sends), beside the
--                     inspector identifier typed on the command line; NULL for the
--                     reviews recorded before this migration.
--   supersedes        the review this one overrides (set by the trigger);
--   supersede_reason  why; required where the new verdict differs from a final verdict
--                     (mowed, not_mowed) already recorded on the case. A verdict after
--                     needs_visit, or one that agrees, needs none. The latest review of a
--                     case is therefore always the one that counts, and every change of
--                     mind carries a name, a login and a reason.
-- notices: each farmer notice as first issued, per case, language, decision and the
--   review it reflects (none: NULL). `mowcheck report` writes a new row only where no
--   notice exists for that key, and otherwise writes the recorded text unchanged: a
--   re-run never re-dates a notice already sent; a changed decision or a new review
--   makes a new notice. content_sha256 is the SHA-256 of body_text || body_html.

-- Reviews recorded before this migration keep db_login NULL: nobody knows the login.
ALTER TABLE reviews
    ADD COLUMN db_login text,
    ADD COLUMN supersedes bigint REFERENCES reviews (review_id),
    ADD COLUMN supersede_reason text CHECK (supersede_reason IS NULL OR supersede_reason <> '');
ALTER TABLE reviews ALTER COLUMN db_login SET DEFAULT session_user;

CREATE FUNCTION reviews_check_supersede() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    prev reviews%ROWTYPE;
BEGIN
    NEW.db_login := session_user;
    -- one review at a time per case, so that two inspectors cannot both "agree"
    PERFORM pg_advisory_xact_lock(7303031, hashtext(NEW.case_number));
    SELECT * INTO prev FROM reviews WHERE case_number = NEW.case_number
        ORDER BY reviewed_at DESC, review_id DESC LIMIT 1;
    IF NEW.supersede_reason IS NULL THEN
        IF FOUND AND prev.verdict IN ('mowed', 'not_mowed') AND prev.verdict <> NEW.verdict THEN
            RAISE EXCEPTION 'case %: % already found % (review %, %); a different verdict '
                            'needs --supersede REASON', NEW.case_number, prev.inspector,
                            prev.verdict, prev.review_id,
                            to_char(prev.reviewed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.supersedes := NULL;
    ELSE
        IF NOT FOUND THEN
            RAISE EXCEPTION 'case %: no earlier review to supersede', NEW.case_number
                USING ERRCODE = 'check_violation';
        END IF;
        IF prev.verdict = NEW.verdict THEN
            RAISE EXCEPTION 'case %: the verdict % agrees with review %; nothing to supersede',
                NEW.case_number, NEW.verdict, prev.review_id
                USING ERRCODE = 'check_violation';
        END IF;
        NEW.supersedes := prev.review_id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER reviews_supersede BEFORE INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION reviews_check_supersede();

CREATE TABLE notices (
    notice_id      bigserial PRIMARY KEY,
    case_number    text NOT NULL REFERENCES cases (case_number),
    lang           text NOT NULL,
    decision_id    bigint NOT NULL REFERENCES decisions (decision_id),
    review_id      bigint REFERENCES reviews (review_id),
    state          text NOT NULL,        -- open, mowed, not_mowed, needs_visit
    issued_on      date NOT NULL,
    deadline       date,                 -- evidence or appeal deadline; NULL: none
    content_sha256 text NOT NULL,
    body_text      text NOT NULL,
    body_html      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (case_number, lang, decision_id, review_id)
);
CREATE TRIGGER notices_append_only BEFORE UPDATE OR DELETE ON notices
    FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON notices FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch')
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_inspector') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT SELECT, INSERT ON notices TO mowcheck_batch';
    EXECUTE 'GRANT USAGE ON SEQUENCE notices_notice_id_seq TO mowcheck_batch';
    EXECUTE 'GRANT SELECT ON notices TO mowcheck_inspector';
END;
$$;
