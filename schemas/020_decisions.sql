-- 020 decisions, case numbers, reviews, and the two roles.
--
-- decisions: one row per decision made; exactly one is current per (claim, season)
--   (and per (parcel, season) for a parcel whose claims could not be fetched at all:
--   claim_id NULL, outcome 'error'). A run that decides the same as the current
--   decision writes nothing; a different one makes its row current and keeps the
--   old one as history (is_current = false, superseded_at set).
-- cases: a case number for every claim-season ever flagged (not_mowed or
--   inconclusive), assigned once: the serial comes from case_serials (one counter
--   per season, gapless) and the number carries ISO 7064 MOD 97-10 check digits
--   (pipeline/casenum.c). A later run never makes a second case for it.
-- reviews: an inspector's verdicts on a case (the latest counts). Append-only.
-- decision_proposals: what a later run would have decided for a reviewed claim:
--   a reviewed decision is never changed (a trigger refuses it, whoever asks); the
--   differing proposal is recorded here, beside it, for the inspector.
--
-- Roles (NOLOGIN; grant them to login users: GRANT mowcheck_batch TO nightly;):
--   mowcheck_batch      the nightly batch: reads everything; writes runs, scenes,
--                       observations, events, decisions, cases, proposals; may only
--                       INSERT (and read) the audit log; cannot write reviews.
--   mowcheck_inspector  reads everything it needs; INSERTs reviews only; cannot
--                       change decisions or cases and cannot touch the audit log
--                       beyond reading it.
-- The roles are created here where absent (this needs CREATEROLE; without it a
-- warning says to create them by hand and the grants are skipped). Neither role
-- owns a table: the migrations run as the owner, so the triggers that guard the
-- audit log and the reviewed decisions cannot be dropped by them.

CREATE TABLE decisions (
    decision_id    bigserial PRIMARY KEY,
    claim_id       text,                      -- NULL: the parcel's claims could not be fetched
    parcel_id      text NOT NULL,
    season         integer NOT NULL,
    applicant      text,                      -- pseudonymous code (no names, no addresses)
    scheme         text,
    window_start   date,
    window_end     date,
    min_mowings    integer,
    outcome        text NOT NULL
                   CHECK (outcome IN ('approved', 'not_mowed', 'inconclusive', 'pending', 'error')),
    rule           text NOT NULL,             -- the rule step (decide_why_code)
    reason_json    jsonb NOT NULL,
    reason_text    text NOT NULL,
    model_version  text,
    run_id         bigint REFERENCES runs (run_id),
    decided_at     timestamptz NOT NULL DEFAULT now(),
    as_of          date NOT NULL,
    is_current     boolean NOT NULL DEFAULT true,
    superseded_at  timestamptz,
    CHECK (claim_id IS NOT NULL OR outcome = 'error')
);
CREATE UNIQUE INDEX decisions_current_claim ON decisions (claim_id, season)
    WHERE is_current AND claim_id IS NOT NULL;
CREATE UNIQUE INDEX decisions_current_parcel_error ON decisions (parcel_id, season)
    WHERE is_current AND claim_id IS NULL;
CREATE INDEX decisions_claim ON decisions (claim_id, season);
CREATE INDEX decisions_parcel ON decisions (parcel_id, season);

CREATE TABLE case_serials (
    season      integer PRIMARY KEY,
    last_serial bigint NOT NULL CHECK (last_serial >= 0)
);

CREATE TABLE cases (
    case_number text PRIMARY KEY,
    claim_id    text NOT NULL,
    parcel_id   text NOT NULL,
    season      integer NOT NULL,
    serial      bigint NOT NULL CHECK (serial >= 1),
    run_id      bigint REFERENCES runs (run_id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (claim_id, season),
    UNIQUE (season, serial)
);

CREATE TABLE reviews (
    review_id   bigserial PRIMARY KEY,
    case_number text NOT NULL REFERENCES cases (case_number),
    verdict     text NOT NULL CHECK (verdict IN ('mowed', 'not_mowed', 'needs_visit')),
    inspector   text NOT NULL CHECK (inspector <> ''),
    note        text NOT NULL,
    reviewed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX reviews_case ON reviews (case_number, reviewed_at);

CREATE TABLE decision_proposals (
    proposal_id   bigserial PRIMARY KEY,
    decision_id   bigint NOT NULL REFERENCES decisions (decision_id), -- the reviewed decision
    claim_id      text NOT NULL,
    season        integer NOT NULL,
    outcome       text NOT NULL
                  CHECK (outcome IN ('approved', 'not_mowed', 'inconclusive', 'pending', 'error')),
    rule          text NOT NULL,
    reason_json   jsonb NOT NULL,
    reason_text   text NOT NULL,
    model_version text,
    run_id        bigint REFERENCES runs (run_id),
    as_of         date NOT NULL,
    proposed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_proposals_claim ON decision_proposals (claim_id, season, proposal_id);

-- A claim-season is reviewed when its case has a review.
CREATE FUNCTION decision_is_reviewed(p_claim text, p_season integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM reviews r JOIN cases c USING (case_number)
                   WHERE c.claim_id = p_claim AND c.season = p_season)
$$;

-- The current decision of a reviewed claim is never changed or deleted, by anyone.
CREATE FUNCTION decisions_guard_reviewed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.is_current AND OLD.claim_id IS NOT NULL
       AND decision_is_reviewed(OLD.claim_id, OLD.season) THEN
        RAISE EXCEPTION 'decision % (claim %, season %) has been reviewed and cannot be changed',
            OLD.decision_id, OLD.claim_id, OLD.season
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;
CREATE TRIGGER decisions_reviewed_frozen
    BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_guard_reviewed();

-- Cases and reviews are written once.
CREATE FUNCTION decisions_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER cases_append_only BEFORE UPDATE OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change();
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION decisions_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON cases, reviews FROM PUBLIC;

-- ---- roles ----
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['mowcheck_batch', 'mowcheck_inspector'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL; -- made meanwhile by a migration of another database
                WHEN insufficient_privilege THEN
                    RAISE WARNING 'cannot create role % (needs CREATEROLE): create it by hand '
                                  'and re-apply the grants of schemas/020_decisions.sql', r;
            END;
        END IF;
    END LOOP;
END;
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch')
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_inspector') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT USAGE ON SCHEMA public TO mowcheck_batch, mowcheck_inspector';
    -- the batch: everything it writes, nothing more
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO mowcheck_batch';
    EXECUTE 'GRANT INSERT, UPDATE, DELETE ON runs, parcel_sets, tiles, parcel_tiles, scenes,
             scene_rejections, observation_parts, events, parcel_seasons TO mowcheck_batch';
    EXECUTE 'GRANT INSERT, UPDATE ON decisions, case_serials TO mowcheck_batch';
    EXECUTE 'GRANT INSERT ON cases, decision_proposals, audit_log TO mowcheck_batch';
    EXECUTE 'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO mowcheck_batch';
    EXECUTE 'REVOKE USAGE ON SEQUENCE reviews_review_id_seq FROM mowcheck_batch';
    -- the inspector: reads, and writes reviews only
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO mowcheck_inspector';
    EXECUTE 'GRANT INSERT ON reviews TO mowcheck_inspector';
    EXECUTE 'GRANT USAGE ON SEQUENCE reviews_review_id_seq TO mowcheck_inspector';
END;
$$;
