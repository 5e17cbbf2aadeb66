-- 011: whether the answer's X-Road-Request-Hash matched the request the client
-- sent (the client recomputes it from the request head curl sent; see
-- pipeline/registry_client.c). true: matched; false: it did not (the request may
-- not have arrived as sent); NULL: nothing to check (no answer, or no hash).
-- Adding a column is no UPDATE: the append-only triggers of 010 are unaffected.
ALTER TABLE audit_log ADD COLUMN request_hash_ok boolean;

COMMENT ON COLUMN audit_log.request_hash_ok IS
    'X-Road-Request-Hash recomputed by the client from the request it sent: true = matched';
