-- Idempotency records are now sealed and found under keys derived from a server secret kept
-- outside the database (--service-secret-file), so records sealed the old way cannot be
-- opened any more. They are a 24-hour cache: drop them.
TRUNCATE idempotency_keys;
