-- Idempotency records hold replayable responses, which may carry secrets (a new API key is
-- shown once). They are now sealed (AES-256-GCM) with a key derived from the client's
-- Idempotency-Key, which is itself stored only as a hash. Records are a 24-hour cache, so
-- the old table is dropped rather than converted.
DROP TABLE idempotency_keys;
CREATE TABLE idempotency_keys (
    key_hash     text PRIMARY KEY,          -- hex SHA-256 of principal + key
    fingerprint  text NOT NULL,
    status       integer NOT NULL,
    content_type text,
    headers      text NOT NULL DEFAULT '',
    sealed_body  bytea NOT NULL,            -- nonce(12) || ciphertext || tag(16)
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);
