-- 032 accountability in the database itself.
--
-- Audit rows: the batch role could INSERT any row into audit_log, naming any time
-- and anyone. Now rows are written only through audit_log_append(), a SECURITY
-- DEFINER function (it runs as the owner, who keeps INSERT; the batch role has
-- EXECUTE on it and no INSERT on the table). A BEFORE INSERT trigger fills the
-- row's who (logged_by: the database login, session_user) and when (logged_at:
-- clock_timestamp()) itself, whatever the caller sends, also for the owner.
--
-- Case numbers: a case number is MC-YYYY-NNNNNN-CC with ISO 7064 MOD 97-10 check
-- digits over season and serial (pipeline/core/casenum.c). A CHECK makes the
-- database refuse a case whose number does not match its season and serial.

ALTER TABLE audit_log ADD COLUMN logged_by text;
COMMENT ON COLUMN audit_log.logged_by IS
    'The database login that wrote the row (session_user), filled by the database';

CREATE FUNCTION audit_log_fill_who_when() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.logged_by := session_user;
    NEW.logged_at := clock_timestamp();
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_who_when BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_fill_who_when();

-- Lists arrive as JSON arrays of text (order kept).
CREATE FUNCTION audit_log_append(
    p_run_id bigint, p_attempt integer, p_client text, p_service text, p_user_id text,
    p_issue text, p_purpose text, p_season integer, p_parcel_ids json, p_claim_ids json,
    p_claim_parcels json, p_applicants json, p_x_road_id text, p_response_x_road_id text,
    p_request_id text, p_request_hash text, p_http_status integer, p_error_type text,
    p_error_message text, p_duration_ms bigint, p_request_hash_ok boolean)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO audit_log (run_id, attempt, client, service, user_id, issue, purpose, season,
        parcel_ids, claim_ids, claim_parcels, applicants, x_road_id, response_x_road_id,
        request_id, request_hash, http_status, error_type, error_message, duration_ms,
        request_hash_ok)
    VALUES (p_run_id, p_attempt, p_client, p_service, p_user_id, p_issue, p_purpose, p_season,
        ARRAY(SELECT e FROM json_array_elements_text(p_parcel_ids) WITH ORDINALITY t(e, i) ORDER BY i),
        ARRAY(SELECT e FROM json_array_elements_text(p_claim_ids) WITH ORDINALITY t(e, i) ORDER BY i),
        ARRAY(SELECT e FROM json_array_elements_text(p_claim_parcels) WITH ORDINALITY t(e, i) ORDER BY i),
        ARRAY(SELECT e FROM json_array_elements_text(p_applicants) WITH ORDINALITY t(e, i) ORDER BY i),
        p_x_road_id, p_response_x_road_id, p_request_id, p_request_hash, p_http_status,
        p_error_type, p_error_message, p_duration_ms, p_request_hash_ok)
    RETURNING id
$$;
REVOKE EXECUTE ON FUNCTION audit_log_append(bigint, integer, text, text, text, text, text,
    integer, json, json, json, json, text, text, text, text, integer, text, text, bigint,
    boolean) FROM PUBLIC;

-- The number a season and serial must have (casenum_format).
CREATE FUNCTION mowcheck_case_number(p_season integer, p_serial bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT format('MC-%s-%s-%s', lpad(p_season::text, 4, '0'), s,
                  lpad((98 - ((lpad(p_season::text, 4, '0') || s || '00')::numeric % 97))::text,
                       2, '0'))
    FROM (SELECT CASE WHEN length(p_serial::text) < 6 THEN lpad(p_serial::text, 6, '0')
                      ELSE p_serial::text END AS s) x
$$;
ALTER TABLE cases ADD CONSTRAINT cases_number_check_digits
    CHECK (case_number = mowcheck_case_number(season, serial));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mowcheck_batch') THEN
        RETURN;
    END IF;
    EXECUTE 'REVOKE INSERT ON audit_log FROM mowcheck_batch';
    EXECUTE 'GRANT EXECUTE ON FUNCTION audit_log_append(bigint, integer, text, text, text, text,
             text, integer, json, json, json, json, text, text, text, text, integer, text, text,
             bigint, boolean) TO mowcheck_batch';
END;
$$;
