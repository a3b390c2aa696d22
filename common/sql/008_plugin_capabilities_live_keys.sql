-- Plugin capabilities read from the module's embedded manifest (the `barbacane_manifest`
-- custom section, plugin.toml text) at registration, owned by registry-svc; and the one
-- definition of a live API key, used by every service that checks one (the hub for data
-- planes, compiler-svc for artifact downloads).
ALTER TABLE plugins
    ADD COLUMN caps_from_manifest boolean NOT NULL DEFAULT false,
    ADD COLUMN body_access boolean NOT NULL DEFAULT false,
    ADD COLUMN host_functions text[] NOT NULL DEFAULT '{}';

CREATE OR REPLACE FUNCTION bb_plugin_json(p plugins) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('name', p.name, 'version', p.version,
                                   'plugin_type', p.plugin_type, 'description', p.description,
                                   'capabilities', p.capabilities,
                                   'config_schema', p.config_schema, 'sha256', p.sha256,
                                   'size_bytes', p.size_bytes,
                                   'registered_at', bb_ts(p.registered_at),
                                   'embedded_manifest', CASE WHEN p.caps_from_manifest THEN
                                       json_build_object('body_access', p.body_access,
                                                         'host_functions', to_json(p.host_functions))
                                   END) $$;

-- A key is live while it is not revoked and not expired (a rotated key's expires_at is the
-- end of its grace period).
CREATE FUNCTION bb_live_key(h bytea) RETURNS TABLE (key_id uuid, project_id uuid, scopes text[])
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT k.id, k.project_id, k.scopes FROM api_keys k
          WHERE k.key_hash = h AND k.revoked_at IS NULL
            AND (k.expires_at IS NULL OR k.expires_at > now()) $$;
