-- People's preferences (time zone, quiet hours). Created by 0004 in databases older than the per-feature layout.
CREATE TABLE IF NOT EXISTS user_prefs (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    zone        TEXT,
    teams_zone  TEXT,
    quiet_start TEXT,
    quiet_end   TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
