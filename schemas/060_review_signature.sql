-- Who may sign a review as whom. A review records the database login that wrote it
-- (040); its inspector name must be that login, or a name the agency has mapped to
-- the login here (inspectors whose database login is not the name they sign with:
-- INSERT INTO inspector_logins VALUES ('anna_k', 'Anna Kask')). So an inspector cannot
-- record a verdict under a colleague's name, whatever client writes the row.
CREATE TABLE inspector_logins (
    db_login  text NOT NULL,
    inspector text NOT NULL,
    PRIMARY KEY (db_login, inspector)
);
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON inspector_logins FROM PUBLIC;

-- SECURITY DEFINER: the check reads the mapping whatever the caller may read;
-- session_user is still the login of the session, not the function's owner.
CREATE FUNCTION reviews_check_signature() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF NEW.inspector IS DISTINCT FROM session_user::text AND NOT EXISTS (
           SELECT 1 FROM inspector_logins m
            WHERE m.db_login = session_user::text AND m.inspector = NEW.inspector) THEN
        RAISE EXCEPTION 'case %: the database login % may not sign a review as %; sign as '
                        'yourself, or have the agency map that name to your login '
                        '(inspector_logins)', NEW.case_number, session_user, NEW.inspector
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER reviews_signature BEFORE INSERT ON reviews
    FOR EACH ROW EXECUTE FUNCTION reviews_check_signature();
