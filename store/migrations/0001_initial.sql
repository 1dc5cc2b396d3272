-- Zählwerk's relational store, first schema. Portable SQL: the same text runs on SQLite and PostgreSQL.
--
-- Conventions (store/README.md): instants are TEXT in RFC 3339 UTC with milliseconds
-- (`2026-03-01T12:00:00.000Z`, fixed width, so text order is time order); JSON is TEXT; integers are
-- BIGINT, decimals DOUBLE PRECISION; rows without a natural key get a time-ordered TEXT id from the
-- application (no SERIAL/AUTOINCREMENT, which the two databases spell differently). Nothing inventory-like
-- is ever deleted: `retired_at` marks it gone. `position` keeps the order of the TOML inventory, so an
-- export writes sites, devices, trees and users in the order they were imported.

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT,
    floor_area_m2 DOUBLE PRECISION,
    building_category TEXT,
    usage_hours TEXT,
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    retired_at TEXT
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    name TEXT NOT NULL,
    class TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source TEXT NOT NULL,
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    retired_at TEXT
);
CREATE INDEX devices_site ON devices (site_id);

CREATE TABLE trees (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    species TEXT NOT NULL,
    planted BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    sensors TEXT NOT NULL,
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    retired_at TEXT
);
CREATE INDEX trees_site ON trees (site_id);

CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    since TEXT,
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    retired_at TEXT
);

-- Further sections of the TOML inventory (`tariffs`, `budgets`, …), each kept whole as JSON under its key.
CREATE TABLE inventory_sections (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Bearer tokens: only their SHA-256 is stored. `position` orders a user's tokens (0 is the inventory's
-- `token_sha256`, then `tokens[]`).
CREATE TABLE user_tokens (
    token_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name),
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE INDEX user_tokens_user ON user_tokens (user_name);

-- One-time activation codes printed on a letter to a household; redeemed for a token.
CREATE TABLE activation_codes (
    code_sha256 TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    redeemed_at TEXT,
    redeemed_by TEXT
);

-- The alert book: one row per episode of an alert (opened … closed). `alert_id` is the model's AlertId, the
-- same for every episode of the same problem; `id` names the episode.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    site_id TEXT,
    subject TEXT NOT NULL,
    detail TEXT,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    acknowledged_by TEXT,
    acknowledged_at TEXT
);
CREATE INDEX alerts_alert ON alerts (alert_id, opened_at);

CREATE TABLE alert_comments (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    author TEXT NOT NULL,
    written_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX alert_comments_alert ON alert_comments (alert_id);

CREATE TABLE watering_log (
    id TEXT PRIMARY KEY,
    tree_id TEXT NOT NULL REFERENCES trees (id),
    watered_at TEXT NOT NULL,
    litres DOUBLE PRECISION,
    recorded_by TEXT NOT NULL,
    note TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX watering_log_tree ON watering_log (tree_id, watered_at);

-- Every change made through the store: who, when, what, and the entity before and after (JSON; NULL for
-- "did not exist" / "deleted").
CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    changed_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_entity ON audit (entity, entity_id);
