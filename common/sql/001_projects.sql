-- Projects, the root of every tenant-scoped row, and the JSON helpers the services share.
-- Owned by registry-svc.
CREATE FUNCTION bb_ts(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

CREATE TABLE projects (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_name_key UNIQUE (name)
);
CREATE INDEX projects_created ON projects (created_at, id);

CREATE FUNCTION bb_project_json(p projects) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('id', p.id, 'name', p.name, 'description', p.description,
                                   'created_at', bb_ts(p.created_at),
                                   'updated_at', bb_ts(p.updated_at)) $$;

CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    request_id text,
    principal  text,
    action     text NOT NULL,
    subject    text
);
