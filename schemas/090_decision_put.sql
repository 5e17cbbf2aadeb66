-- One claim's decision recorded in one statement.
--
-- decide used to record a claim in four to six statements (read the current
-- decision, supersede it, insert the new one, close the parcel's earlier error,
-- look up or make the case), each a round trip to the server: at 200,000 claims a
-- night that was most of decide's time. This function does the same steps on the
-- server; decide sends one call a claim, many calls at a time (libpq's pipeline
-- mode), and reads the answers in order.
--
-- The steps, unchanged:
--   - a reviewed claim keeps its current decision; a differing outcome is recorded
--     beside it as a proposal unless the latest proposal says the same
--     (effect 'proposed', else 'unchanged');
--   - otherwise a decision equal to the current one (outcome, rule, model and the
--     reason without its 'failure' text) writes nothing ('unchanged'); a differing
--     one supersedes it ('changed'); a first one is inserted ('new');
--   - the parcel's current parcel-level error (claims could not be fetched) is
--     history once one of its claims is decided;
--   - a flag (not_mowed, inconclusive) gets the claim-season's case, made once, with
--     the season's next serial.
-- The next serial is the season's highest (cases' unique index on season and serial)
-- plus one, no longer an update of case_serials per case: updating one row tens of
-- thousands of times in one transaction leaves as many dead versions of it, each
-- walked by the next update, and a night's cases took time growing with their square.
-- case_serials is brought up to date once at the end of the night
-- (case_serials_catch_up, called before the decisions are committed). Cases are
-- append-only and decide runs one at a time (an advisory lock), so no serial is
-- handed out twice; the unique index would refuse it if it were.
-- Runs with the caller's rights (mowcheck_batch has what it needs); the triggers
-- that guard reviewed decisions and cases apply as before.
-- decision_is_reviewed (schemas/020) was a SQL function, whose query PostgreSQL plans
-- again on every call: a tenth of a millisecond a claim here and on every update of a
-- decision (the trigger that guards reviewed ones). The same test in PL/pgSQL keeps its
-- plan for the session.
CREATE OR REPLACE FUNCTION decision_is_reviewed(p_claim text, p_season integer) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM reviews r JOIN cases c USING (case_number)
                   WHERE c.claim_id = p_claim AND c.season = p_season);
END;
$$;

CREATE FUNCTION decision_put_claim(
    p_claim text, p_parcel text, p_season integer, p_applicant text, p_scheme text,
    p_window_start date, p_window_end date, p_min_mowings integer, p_outcome text,
    p_rule text, p_reason_json jsonb, p_reason_text text, p_model_version text,
    p_run_id bigint, p_as_of date,
    OUT o_effect text, OUT o_case_number text)
LANGUAGE plpgsql AS $$
DECLARE
    cur_id bigint;
    cur_same boolean;
    cur_reviewed boolean;
    have_current boolean;
    n integer;
    serial bigint;
BEGIN
    SELECT d.decision_id,
           (d.outcome = p_outcome AND d.rule = p_rule
            AND d.reason_json - 'failure' = p_reason_json - 'failure'
            AND d.model_version IS NOT DISTINCT FROM p_model_version),
           decision_is_reviewed(d.claim_id, d.season)
      INTO cur_id, cur_same, cur_reviewed
      FROM decisions d
     WHERE d.claim_id = p_claim AND d.season = p_season AND d.is_current;
    have_current := FOUND;

    IF have_current AND cur_reviewed THEN
        o_effect := 'unchanged';
        IF NOT cur_same THEN
            INSERT INTO decision_proposals (decision_id, claim_id, season, outcome, rule,
                                            reason_json, reason_text, model_version, run_id, as_of)
            SELECT cur_id, p_claim, p_season, p_outcome, p_rule, p_reason_json, p_reason_text,
                   p_model_version, p_run_id, p_as_of
             WHERE NOT EXISTS (
                   SELECT 1 FROM (SELECT l.outcome, l.rule, l.reason_json, l.model_version
                                    FROM decision_proposals l
                                   WHERE l.claim_id = p_claim AND l.season = p_season
                                   ORDER BY l.proposal_id DESC LIMIT 1) l
                    WHERE l.outcome = p_outcome AND l.rule = p_rule
                      AND l.reason_json = p_reason_json
                      AND l.model_version IS NOT DISTINCT FROM p_model_version);
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n > 0 THEN
                o_effect := 'proposed';
            END IF;
        END IF;
        SELECT c.case_number INTO o_case_number
          FROM cases c WHERE c.claim_id = p_claim AND c.season = p_season;
        RETURN;
    END IF;

    IF have_current AND cur_same THEN
        o_effect := 'unchanged';
    ELSE
        IF have_current THEN
            UPDATE decisions SET is_current = false, superseded_at = now()
             WHERE decision_id = cur_id;
            o_effect := 'changed';
        ELSE
            o_effect := 'new';
        END IF;
        INSERT INTO decisions (claim_id, parcel_id, season, applicant, scheme, window_start,
                               window_end, min_mowings, outcome, rule, reason_json, reason_text,
                               model_version, run_id, as_of)
        VALUES (p_claim, p_parcel, p_season, p_applicant, p_scheme, p_window_start,
                p_window_end, p_min_mowings, p_outcome, p_rule, p_reason_json, p_reason_text,
                p_model_version, p_run_id, p_as_of);
    END IF;

    UPDATE decisions SET is_current = false, superseded_at = now()
     WHERE claim_id IS NULL AND parcel_id = p_parcel AND season = p_season AND is_current;

    SELECT c.case_number INTO o_case_number
      FROM cases c WHERE c.claim_id = p_claim AND c.season = p_season;
    IF o_case_number IS NULL AND p_outcome IN ('not_mowed', 'inconclusive') THEN
        SELECT greatest((SELECT max(c.serial) FROM cases c WHERE c.season = p_season),
                        (SELECT cs.last_serial FROM case_serials cs WHERE cs.season = p_season),
                        0) + 1
          INTO serial;
        o_case_number := mowcheck_case_number(p_season, serial);
        INSERT INTO cases (case_number, claim_id, parcel_id, season, serial, run_id)
        VALUES (o_case_number, p_claim, p_parcel, p_season, serial, p_run_id);
    END IF;
END;
$$;

-- case_serials up to the highest serial of each season's cases.
CREATE FUNCTION case_serials_catch_up() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO case_serials AS cs (season, last_serial)
    SELECT c.season, max(c.serial) FROM cases c GROUP BY c.season
    ON CONFLICT (season) DO UPDATE SET last_serial = EXCLUDED.last_serial
        WHERE cs.last_serial < EXCLUDED.last_serial;
$$;
