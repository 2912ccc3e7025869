-- 0004: the auditor console's sessions, the same records as the SQLite
-- store's 0005. Only the SHA-256 of the session cookie is stored.

CREATE TABLE console_sessions (
    key_hash   BYTEA PRIMARY KEY,
    token_id   TEXT NOT NULL,
    token_hash BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (seen_at);
CREATE INDEX console_sessions_created ON console_sessions (created_at);
