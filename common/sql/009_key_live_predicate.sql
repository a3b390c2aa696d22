-- The one definition of a live API key, as a predicate on the row: not revoked and not expired
-- (a rotated key's expires_at is the end of its grace period). bb_live_key (008, the lookup by
-- hash compiler-svc's download check uses) and the hub's queries (its registration check and
-- its bulk key cache) all apply this one.
CREATE FUNCTION bb_key_live(k api_keys) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()) $$;

CREATE OR REPLACE FUNCTION bb_live_key(h bytea)
    RETURNS TABLE (key_id uuid, project_id uuid, scopes text[])
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT k.id, k.project_id, k.scopes FROM api_keys k
          WHERE k.key_hash = h AND bb_key_live(k) $$;
