-- Data planes and their sessions (owned by dataplane-hub), the hubs that hold them (each hub
-- keeps its own row fresh), and deployments: the desired artifact per project, with history
-- (owned by registry-svc).
CREATE TABLE hubs (
    id         uuid PRIMARY KEY,
    instance   text,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE data_planes (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name                text NOT NULL,       -- as registered, or dp-<short id> when nameless
    named               boolean NOT NULL,    -- false: one row per session, reaped when offline
    api_key_id          uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    hub_id              uuid,                -- the hub holding the live session, else NULL
    session_id          uuid,                -- that session (a reconnect gets a new one)
    status              text NOT NULL CHECK (status IN ('online', 'deploying', 'offline')),
    metadata            jsonb NOT NULL DEFAULT '{}',
    artifact_id         uuid,                -- the artifact whose hash it reports, when known
    artifact_hash       text,                -- reported in its last heartbeat
    drift_detected      boolean NOT NULL DEFAULT false,
    pending_artifact_id uuid,                -- announced (artifact_available), not confirmed
    last_seen           timestamptz,
    connected_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT data_planes_project_name UNIQUE (project_id, name)
);
CREATE INDEX data_planes_project ON data_planes (project_id, created_at, id);
CREATE INDEX data_planes_hub ON data_planes (hub_id) WHERE hub_id IS NOT NULL;
CREATE INDEX data_planes_key ON data_planes (api_key_id);

CREATE TABLE deployments (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    artifact_id   uuid NOT NULL,              -- no foreign key: history outlives artifacts
    artifact_hash text NOT NULL,
    sha256        text NOT NULL,
    request_id    text,
    principal     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployments_project ON deployments (project_id, created_at DESC, id DESC);

CREATE FUNCTION bb_data_plane_json(d data_planes) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT json_build_object('id', d.id, 'project_id', d.project_id, 'name', d.name,
                                   'artifact_id', d.artifact_id, 'status', d.status,
                                   'last_seen', bb_ts(d.last_seen),
                                   'connected_at', bb_ts(d.connected_at),
                                   'metadata', d.metadata, 'created_at', bb_ts(d.created_at),
                                   'artifact_hash', d.artifact_hash,
                                   'drift_detected', d.drift_detected) $$;
