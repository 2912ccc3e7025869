-- 0001: initial schema. Times are INTEGER nanoseconds since the Unix epoch (UTC).

CREATE TABLE keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA')),
    public_jwk  BLOB NOT NULL,
    private_enc BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    retired_at  INTEGER,
    CHECK (NOT (active = 1 AND retired_at IS NOT NULL))
);
-- At most one active key.
CREATE UNIQUE INDEX keys_one_active ON keys (active) WHERE active = 1;

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE status_lists (
    id         TEXT PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size > 0),
    bits       INTEGER NOT NULL CHECK (bits IN (1, 2, 4, 8)),
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    version    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

-- One row per issued credential. Never the credential, its disclosures or salts.
CREATE TABLE credentials (
    id                TEXT PRIMARY KEY,
    subject           TEXT NOT NULL,
    principal_id      TEXT NOT NULL,
    agent_class       TEXT NOT NULL,
    vct               TEXT NOT NULL,
    list_id           TEXT NOT NULL REFERENCES status_lists (id),
    idx               INTEGER NOT NULL CHECK (idx >= 0),
    status            INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER,
    jwt_hash          BLOB NOT NULL,
    token_id          TEXT NOT NULL,
    status_reason     TEXT NOT NULL DEFAULT '',
    status_incident   TEXT NOT NULL DEFAULT '',
    status_note       TEXT NOT NULL DEFAULT '',
    status_changed_at INTEGER,
    -- Safety net under the index allocator: an index is never given twice.
    UNIQUE (list_id, idx)
);
CREATE INDEX credentials_subject ON credentials (subject);
CREATE INDEX credentials_principal ON credentials (principal_id);
CREATE INDEX credentials_agent_class ON credentials (agent_class);
CREATE INDEX credentials_issued_at ON credentials (issued_at);
CREATE INDEX credentials_nonzero ON credentials (list_id, idx, status) WHERE status <> 0;

CREATE TABLE idempotency (
    token_id      TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    credential_id TEXT NOT NULL REFERENCES credentials (id),
    response      BLOB,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (token_id, key)
);

-- Hash-chained audit log: hash = SHA-256(prev_hash || encoding of the entry).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY CHECK (seq > 0),
    time      INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE INDEX audit_time ON audit_log (time);
CREATE INDEX audit_actor ON audit_log (actor, seq);
CREATE INDEX audit_action ON audit_log (action, seq);
CREATE INDEX audit_target ON audit_log (target, seq);
