-- Courier's foundation: inbound de-duplication, conversation references, tenants, a small key/value area.
-- Times are ISO-8601 UTC text in both dialects (sortable, exact, portable); JSON is text.

CREATE TABLE seen_activities (
    conversation_id TEXT NOT NULL,
    activity_id     TEXT NOT NULL,
    seen_at         TEXT NOT NULL,
    PRIMARY KEY (conversation_id, activity_id)
);
CREATE INDEX seen_activities_seen_at ON seen_activities (seen_at);

CREATE TABLE conversations (
    conversation_id    TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    kind               TEXT NOT NULL,
    service_url        TEXT NOT NULL,
    reference          TEXT NOT NULL,
    user_aad_object_id TEXT,
    team_id            TEXT,
    channel_id         TEXT,
    name               TEXT,
    active             INTEGER NOT NULL DEFAULT 1,
    installed_at       TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX conversations_personal ON conversations (tenant_id, user_aad_object_id) WHERE user_aad_object_id IS NOT NULL;
CREATE INDEX conversations_channel ON conversations (tenant_id, team_id, channel_id) WHERE team_id IS NOT NULL;
CREATE INDEX conversations_tenant_kind ON conversations (tenant_id, kind, conversation_id);

CREATE TABLE tenants (
    tenant_id   TEXT PRIMARY KEY,
    name        TEXT,
    auth_method TEXT NOT NULL,
    status      TEXT NOT NULL,
    linked_at   TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE kv (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
