-- 0002: OpenID4VCI issuance state, the same records as the SQLite store's
-- 0003. Only hashes of secrets are stored.

CREATE TABLE oid4vci_offers (
    id           TEXT PRIMARY KEY,
    ref_hash     BYTEA NOT NULL UNIQUE,
    code_hash    BYTEA NOT NULL UNIQUE,
    tx_code_hash BYTEA,
    template     TEXT NOT NULL,
    token_id     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    redeemed_at  BIGINT
);

-- At most one access token per offer: a pre-authorized code is single use.
CREATE TABLE oid4vci_tokens (
    hash       BYTEA PRIMARY KEY,
    offer_id   TEXT NOT NULL UNIQUE REFERENCES oid4vci_offers (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- c_nonces already used, kept until they would have expired.
CREATE TABLE oid4vci_spent_nonces (
    id         BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oid4vci_spent_nonces_expiry ON oid4vci_spent_nonces (expires_at);
