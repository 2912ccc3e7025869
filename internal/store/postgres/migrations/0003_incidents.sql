-- 0003: incident reports and the receipt log. Times are BIGINT nanoseconds
-- since the Unix epoch (UTC), except a receipt's iat (seconds, as signed).

CREATE TABLE incidents (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    category          TEXT NOT NULL,
    severity          TEXT NOT NULL,
    description       TEXT NOT NULL,
    occurred_at       BIGINT NOT NULL,
    requested_action  TEXT NOT NULL CHECK (requested_action IN ('suspend', 'revoke', 'none')),
    receipts          TEXT NOT NULL, -- JSON array of compact receipts
    verifier          TEXT NOT NULL,
    credential_id     TEXT NOT NULL REFERENCES credentials (id),
    subject           TEXT NOT NULL,
    principal_id      TEXT NOT NULL,
    reporter_token_id TEXT NOT NULL,
    reporter          TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    decision          TEXT NOT NULL DEFAULT '' CHECK (decision IN ('', 'suspend', 'revoke', 'dismiss')),
    resolution_note   TEXT NOT NULL DEFAULT '',
    resolved_by       TEXT NOT NULL DEFAULT '',
    resolved_at       BIGINT,
    CHECK ((state = 'open') = (decision = '' AND resolved_at IS NULL))
);
CREATE INDEX incidents_credential ON incidents (credential_id);
CREATE INDEX incidents_principal ON incidents (principal_id);
CREATE INDEX incidents_state ON incidents (state);

-- The counterparty's action log: every receipt a verifier signed.
CREATE TABLE receipts (
    ord       BIGSERIAL PRIMARY KEY,
    jti       TEXT NOT NULL,
    iss       TEXT NOT NULL,
    iat       BIGINT NOT NULL,
    result    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    chain     TEXT[] NOT NULL,
    principal TEXT NOT NULL,
    action    TEXT NOT NULL,
    receipt   TEXT NOT NULL,
    claims    JSONB NOT NULL,
    UNIQUE (iss, jti)
);
CREATE INDEX receipts_subject ON receipts (subject, iat);
CREATE INDEX receipts_principal ON receipts (principal, iat);
CREATE INDEX receipts_iat ON receipts (iat);
