-- 0002: status transitions enforced by the database. Revocation is final:
-- no update may move a revoked credential to another status, whichever
-- process or node issues it. (Valid -> suspended/revoked and suspended ->
-- valid/revoked are the allowed moves; with statuses 0, 1 and 2 the only
-- forbidden one is leaving revoked.)
CREATE TRIGGER credentials_revocation_final
BEFORE UPDATE OF status ON credentials
WHEN OLD.status = 1 AND NEW.status <> 1
BEGIN
    SELECT RAISE(ABORT, 'credential status: revocation is final');
END;
