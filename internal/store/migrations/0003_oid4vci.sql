-- 0003: OpenID4VCI issuance state. Only hashes of secrets are stored.

CREATE TABLE oid4vci_offers (
    id           TEXT PRIMARY KEY,
    ref_hash     BLOB NOT NULL UNIQUE,
    code_hash    BLOB NOT NULL UNIQUE,
    tx_code_hash BLOB,
    template     TEXT NOT NULL,
    token_id     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    redeemed_at  INTEGER
);

-- At most one access token per offer: a pre-authorized code is single use.
CREATE TABLE oid4vci_tokens (
    hash       BLOB PRIMARY KEY,
    offer_id   TEXT NOT NULL UNIQUE REFERENCES oid4vci_offers (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- c_nonces already used, kept until they would have expired.
CREATE TABLE oid4vci_spent_nonces (
    id         BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX oid4vci_spent_nonces_expiry ON oid4vci_spent_nonces (expires_at);
