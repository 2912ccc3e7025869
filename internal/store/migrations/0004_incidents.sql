-- 0004: incident reports. Times are INTEGER nanoseconds since the Unix epoch (UTC).

CREATE TABLE incidents (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    category          TEXT NOT NULL,
    severity          TEXT NOT NULL,
    description       TEXT NOT NULL,
    occurred_at       INTEGER NOT NULL,
    requested_action  TEXT NOT NULL CHECK (requested_action IN ('suspend', 'revoke', 'none')),
    receipts          TEXT NOT NULL, -- JSON array of compact receipts
    verifier          TEXT NOT NULL,
    credential_id     TEXT NOT NULL REFERENCES credentials (id),
    subject           TEXT NOT NULL,
    principal_id      TEXT NOT NULL,
    reporter_token_id TEXT NOT NULL,
    reporter          TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    decision          TEXT NOT NULL DEFAULT '' CHECK (decision IN ('', 'suspend', 'revoke', 'dismiss')),
    resolution_note   TEXT NOT NULL DEFAULT '',
    resolved_by       TEXT NOT NULL DEFAULT '',
    resolved_at       INTEGER,
    -- resolved exactly when a decision was recorded
    CHECK ((state = 'open') = (decision = '' AND resolved_at IS NULL))
);
CREATE INDEX incidents_credential ON incidents (credential_id);
CREATE INDEX incidents_principal ON incidents (principal_id);
CREATE INDEX incidents_state ON incidents (state);
