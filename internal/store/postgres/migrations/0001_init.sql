-- 0001: initial PostgreSQL schema, the same records as the SQLite store.
-- Times are BIGINT nanoseconds since the Unix epoch (UTC). ord columns keep
-- insertion order for "oldest first" among equal creation times.

CREATE TABLE keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA')),
    public_jwk  BYTEA NOT NULL,
    private_enc BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT false,
    retired_at  BIGINT,
    ord         BIGSERIAL NOT NULL,
    CHECK (NOT (active AND retired_at IS NOT NULL))
);
-- At most one active key, whichever node writes.
CREATE UNIQUE INDEX keys_one_active ON keys (active) WHERE active;

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    ord        BIGSERIAL NOT NULL
);

CREATE TABLE status_lists (
    id         TEXT PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size > 0),
    bits       INTEGER NOT NULL CHECK (bits IN (1, 2, 4, 8)),
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    version    BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    ord        BIGSERIAL NOT NULL
);

-- One row per issued credential. Never the credential, its disclosures or salts.
CREATE TABLE credentials (
    -- Byte order, as in SQLite, for paging by id.
    id                TEXT COLLATE "C" PRIMARY KEY,
    subject           TEXT NOT NULL,
    principal_id      TEXT NOT NULL,
    agent_class       TEXT NOT NULL,
    vct               TEXT NOT NULL,
    list_id           TEXT NOT NULL REFERENCES status_lists (id),
    idx               INTEGER NOT NULL CHECK (idx >= 0),
    status            SMALLINT NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    issued_at         BIGINT NOT NULL,
    expires_at        BIGINT,
    jwt_hash          BYTEA NOT NULL,
    token_id          TEXT NOT NULL,
    status_reason     TEXT NOT NULL DEFAULT '',
    status_incident   TEXT NOT NULL DEFAULT '',
    status_note       TEXT NOT NULL DEFAULT '',
    status_changed_at BIGINT,
    -- Index allocation across nodes rests on this: an index is never given
    -- twice; a node that draws a taken one gets a conflict and draws again.
    UNIQUE (list_id, idx)
);
CREATE INDEX credentials_subject ON credentials (subject);
CREATE INDEX credentials_principal ON credentials (principal_id);
CREATE INDEX credentials_agent_class ON credentials (agent_class);
CREATE INDEX credentials_issued_at ON credentials (issued_at);
CREATE INDEX credentials_nonzero ON credentials (list_id, idx, status) WHERE status <> 0;

-- Revocation is final, whichever node or client sends the UPDATE.
CREATE FUNCTION credentials_revocation_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 1 AND NEW.status <> 1 THEN
        RAISE EXCEPTION 'credential %: revocation is final', OLD.id USING ERRCODE = 'P0001';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER credentials_revocation_final BEFORE UPDATE OF status ON credentials
    FOR EACH ROW EXECUTE FUNCTION credentials_revocation_final();

CREATE TABLE idempotency (
    token_id      TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    credential_id TEXT NOT NULL REFERENCES credentials (id),
    response      BYTEA,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (token_id, key)
);

-- Hash-chained audit log: hash = SHA-256(prev_hash || encoding of the entry).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY CHECK (seq > 0),
    time      BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE INDEX audit_time ON audit_log (time);
CREATE INDEX audit_actor ON audit_log (actor, seq);
CREATE INDEX audit_action ON audit_log (action, seq);
CREATE INDEX audit_target ON audit_log (target, seq);

-- The head of the chain, one row. Every write transaction locks it first
-- (SELECT ... FOR UPDATE), so that appends from every node form one linear
-- chain and write transactions never deadlock on each other's rows.
CREATE TABLE audit_head (
    one  BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');
