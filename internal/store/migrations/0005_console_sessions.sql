-- 0005: the auditor console's sessions, shared by every node. Only the
-- SHA-256 of the session cookie is stored.

CREATE TABLE console_sessions (
    key_hash   BLOB PRIMARY KEY,
    token_id   TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (seen_at);
CREATE INDEX console_sessions_created ON console_sessions (created_at);
