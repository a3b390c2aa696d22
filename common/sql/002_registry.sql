-- Specs and their revisions, plugins, API keys, idempotency records, and the artifact link
-- table the compiler fills. Owned by registry-svc, except artifact_plugins (compiler-svc).
CREATE TABLE specs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             text NOT NULL,
    spec_type        text NOT NULL CHECK (spec_type IN ('openapi', 'asyncapi')),
    spec_version     text NOT NULL,
    current_revision integer NOT NULL,
    current_sha256   text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT specs_project_name UNIQUE (project_id, name)
);
CREATE INDEX specs_created ON specs (created_at, id);

CREATE TABLE spec_revisions (
    spec_id      uuid NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    revision     integer NOT NULL CHECK (revision > 0),
    sha256       text NOT NULL,
    filename     text NOT NULL,
    spec_type    text NOT NULL,
    spec_version text NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (spec_id, revision)
);

CREATE FUNCTION bb_spec_json(s specs) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('id', s.id, 'name', s.name, 'current_sha256', s.current_sha256,
                                   'spec_type', s.spec_type, 'spec_version', s.spec_version,
                                   'project_id', s.project_id,
                                   'current_revision', s.current_revision,
                                   'created_at', bb_ts(s.created_at),
                                   'updated_at', bb_ts(s.updated_at)) $$;

-- sort_key orders versions by semantic-version precedence under the C collation.
CREATE TABLE plugins (
    name          text NOT NULL,
    version       text NOT NULL,
    sort_key      text COLLATE "C" NOT NULL,
    plugin_type   text NOT NULL CHECK (plugin_type IN ('middleware', 'dispatcher')),
    description   text,
    capabilities  json NOT NULL DEFAULT '[]',
    config_schema json NOT NULL DEFAULT '{}',
    sha256        text NOT NULL,
    size_bytes    bigint NOT NULL,
    wasm          bytea NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX plugins_order ON plugins (name COLLATE "C", sort_key);

CREATE FUNCTION bb_plugin_json(p plugins) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('name', p.name, 'version', p.version,
                                   'plugin_type', p.plugin_type, 'description', p.description,
                                   'capabilities', p.capabilities,
                                   'config_schema', p.config_schema, 'sha256', p.sha256,
                                   'size_bytes', p.size_bytes,
                                   'registered_at', bb_ts(p.registered_at)) $$;

-- Filled by the compiler for every artifact; a referenced plugin version cannot be deleted.
CREATE TABLE artifact_plugins (
    artifact_id    uuid NOT NULL,
    plugin_name    text NOT NULL,
    plugin_version text NOT NULL,
    PRIMARY KEY (artifact_id, plugin_name),
    FOREIGN KEY (plugin_name, plugin_version) REFERENCES plugins (name, version)
);
CREATE INDEX artifact_plugins_plugin ON artifact_plugins (plugin_name, plugin_version);

CREATE TABLE api_keys (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             text NOT NULL,
    key_hash         bytea NOT NULL UNIQUE,
    key_prefix       text NOT NULL,
    scopes           text[] NOT NULL,
    expires_at       timestamptz,
    last_used_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    revoked_at       timestamptz,
    rotated_to       uuid REFERENCES api_keys (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
    grace_expires_at timestamptz
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (project_id, name)
    WHERE revoked_at IS NULL AND rotated_to IS NULL;
CREATE INDEX api_keys_project ON api_keys (project_id, created_at, id);

CREATE FUNCTION bb_apikey_json(k api_keys) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('id', k.id, 'project_id', k.project_id, 'name', k.name,
                                   'key_prefix', k.key_prefix, 'scopes', to_json(k.scopes),
                                   'expires_at', bb_ts(k.expires_at),
                                   'last_used_at', bb_ts(k.last_used_at),
                                   'created_at', bb_ts(k.created_at),
                                   'revoked_at', bb_ts(k.revoked_at),
                                   'rotated_to', k.rotated_to,
                                   'grace_expires_at', bb_ts(k.grace_expires_at)) $$;

CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status       integer NOT NULL,
    content_type text,
    headers      text NOT NULL DEFAULT '',
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_expiry ON idempotency_keys (expires_at);

-- Keyset cursors: microseconds since the epoch and the id, exact both ways.
CREATE FUNCTION bb_cursor(t timestamptz, id uuid) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint::text || ',' || id::text $$;
CREATE FUNCTION bb_cursor_ts(c text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT timestamptz 'epoch' + split_part(c, ',', 1)::bigint * interval '1 microsecond' $$;
CREATE FUNCTION bb_cursor_id(c text) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT split_part(c, ',', 2)::uuid $$;
