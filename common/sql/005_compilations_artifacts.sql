-- Compilation jobs (a durable queue: claimed with FOR UPDATE SKIP LOCKED, held by a lease)
-- and the artifacts they produce. Owned by compiler-svc.
CREATE TABLE compilations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    spec_id          uuid NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    project_id       uuid NOT NULL,
    spec_revision    integer NOT NULL,
    additional_specs jsonb NOT NULL DEFAULT '[]',  -- [{"spec_id", "revision"}], request order
    production       boolean NOT NULL,
    artifact_format  integer NOT NULL DEFAULT 6 CHECK (artifact_format IN (4, 6)),
    status           text NOT NULL CHECK (status IN ('pending', 'compiling', 'succeeded', 'failed')),
    errors           jsonb NOT NULL DEFAULT '[]',
    warnings         jsonb NOT NULL DEFAULT '[]',
    artifact_id      uuid,
    attempts         integer NOT NULL DEFAULT 0,    -- claims so far (a crashed worker's counts)
    claimed_by       text,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
CREATE INDEX compilations_open ON compilations (created_at) WHERE status IN ('pending', 'compiling');
CREATE INDEX compilations_spec ON compilations (spec_id, created_at, id);

-- Artifacts outlive their compilations and specs (NOTES: deleting a spec keeps them).
CREATE TABLE artifacts (
    id               uuid PRIMARY KEY,
    compilation_id   uuid UNIQUE,
    project_id       uuid NOT NULL,
    manifest         json NOT NULL,                 -- json, not jsonb: the file's own key order
    sha256           text NOT NULL,                 -- of the whole .bca file
    size_bytes       bigint NOT NULL,
    artifact_hash    text NOT NULL,                 -- manifest.artifact_hash, what data planes report
    artifact_format  integer NOT NULL,
    compiler_version text NOT NULL,
    compiled_at      timestamptz NOT NULL,
    content          bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifacts_created ON artifacts (created_at, id);
CREATE INDEX artifacts_project ON artifacts (project_id, created_at DESC);
CREATE INDEX artifacts_hash ON artifacts (artifact_hash);

CREATE TABLE artifact_specs (
    artifact_id uuid NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    spec_id     uuid NOT NULL,
    revision    integer NOT NULL,
    PRIMARY KEY (artifact_id, spec_id)
);
CREATE INDEX artifact_specs_spec ON artifact_specs (spec_id);

-- The plugin links are removed with their artifact.
ALTER TABLE artifact_plugins ADD CONSTRAINT artifact_plugins_artifact
    FOREIGN KEY (artifact_id) REFERENCES artifacts (id) ON DELETE CASCADE;

CREATE FUNCTION bb_artifact_json(a artifacts) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('id', a.id, 'manifest', a.manifest, 'sha256', a.sha256,
                                   'size_bytes', a.size_bytes,
                                   'compiler_version', a.compiler_version,
                                   'compiled_at', bb_ts(a.compiled_at),
                                   'artifact_hash', a.artifact_hash,
                                   'artifact_format', a.artifact_format,
                                   'project_id', a.project_id,
                                   'compilation_id', a.compilation_id,
                                   'created_at', bb_ts(a.created_at)) $$;

CREATE FUNCTION bb_compilation_json(c compilations) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('id', c.id, 'spec_id', c.spec_id, 'status', c.status,
                                   'production', c.production,
                                   'additional_specs', (SELECT coalesce(json_agg(e->>'spec_id'
                                        ORDER BY o), '[]') FROM jsonb_array_elements(c.additional_specs)
                                        WITH ORDINALITY AS x(e, o)),
                                   'artifact_id', c.artifact_id, 'errors', c.errors,
                                   'warnings', c.warnings, 'started_at', bb_ts(c.created_at),
                                   'completed_at', bb_ts(c.completed_at),
                                   'project_id', c.project_id, 'spec_revision', c.spec_revision,
                                   'artifact_format', c.artifact_format,
                                   'attempts', c.attempts) $$;
