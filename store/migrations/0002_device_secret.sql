-- A device's secret (today: a wireless M-Bus meter's AES-128 key, 32 hex digits), kept apart from the
-- `source` JSON, which is what the audit trail and exports show: the secret is never in either.
ALTER TABLE devices ADD COLUMN secret TEXT;
