-- The audit log of registry requests: one row per request ATTEMPT (retries
-- included), written by the registry client (pipeline/registry_client.c via
-- store_audit.c) right after the attempt, in its own transaction, so that a crash
-- or a rollback of the decisions later on cannot take it back.
--
-- Append-only. Nobody updates, deletes or truncates it:
--   * the triggers below raise on UPDATE and DELETE (per row) and TRUNCATE (per
--     statement) whoever asks, the table owner and superusers included;
--   * UPDATE, DELETE and TRUNCATE are revoked from PUBLIC.
-- Roles (item 8 of issue 4; created by the operator, not by this migration):
--   * the batch role (e.g. mowcheck_batch) may INSERT and SELECT only:
--       GRANT INSERT, SELECT ON audit_log TO mowcheck_batch;
--       GRANT USAGE ON SEQUENCE audit_log_id_seq TO mowcheck_batch;
--   * the inspector role (e.g. mowcheck_inspector) may SELECT only:
--       GRANT SELECT ON audit_log TO mowcheck_inspector;
--   * neither role owns the table: an owner (or superuser) could drop the
--     triggers, so the migrations run as a separate owner role.
--
-- What is kept is what the farmer's access log needs and nothing more: the
-- pseudonymous applicant codes and parcel ids of the claims returned, never
-- names or addresses (DESIGN.md, "Once only").

CREATE TABLE audit_log (
    id                 bigserial PRIMARY KEY,
    logged_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_id             bigint REFERENCES runs (run_id), -- the run that asked (NULL: none)
    attempt            integer NOT NULL CHECK (attempt >= 1),
    client             text NOT NULL,           -- X-Road-Client as sent
    service            text NOT NULL,           -- INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE as sent
    user_id            text NOT NULL,           -- X-Road-UserId: the responsible official
    issue              text,                    -- X-Road-Issue: run id or case number
    purpose            text,                    -- why, in words
    season             integer,
    parcel_ids         text[] NOT NULL,         -- the parcels asked about
    claim_ids          text[] NOT NULL DEFAULT '{}',  -- the claims returned ...
    claim_parcels      text[] NOT NULL DEFAULT '{}',  -- ... their parcels (parallel)
    applicants         text[] NOT NULL DEFAULT '{}',  -- ... their applicants (parallel)
    x_road_id          text NOT NULL,           -- our X-Road-Id
    response_x_road_id text,                    -- X-Road-Id of the answer
    request_id         text,                    -- X-Road-Request-Id
    request_hash       text,                    -- X-Road-Request-Hash
    http_status        integer,                 -- NULL: no HTTP answer
    error_type         text,                    -- X-Road-Error type, timeout, connection,
                                                -- malformed, tls, registry; NULL: success
    error_message      text,
    duration_ms        bigint NOT NULL CHECK (duration_ms >= 0),
    CHECK (cardinality(claim_ids) = cardinality(claim_parcels)
           AND cardinality(claim_ids) = cardinality(applicants))
);

COMMENT ON TABLE audit_log IS
    'Registry requests, one row per attempt. Append-only: UPDATE, DELETE and TRUNCATE raise.';

-- The access log looks rows up by applicant and by parcel.
CREATE INDEX audit_log_applicants ON audit_log USING gin (applicants);
CREATE INDEX audit_log_parcel_ids ON audit_log USING gin (parcel_ids);
CREATE INDEX audit_log_run ON audit_log (run_id);

CREATE FUNCTION audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
