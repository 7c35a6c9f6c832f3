-- Throttling that holds under concurrency: a login attempt is written as a
-- 'pending' row before its password is checked (a reserved place in the
-- budget), then updated to its outcome.
--
-- client_key: what per-address limits count by (an IPv4 address, or the /64
-- of an IPv6 one); client_ip stays the full address for the audit trail.
-- device: the device-cookie id of a browser that proved the password before,
-- '' for every other attempt. Both are NOT NULL with '' for "none", so the
-- counts compare plain values and nothing NULL crosses sqlx's Any driver.
ALTER TABLE login_attempts ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
ALTER TABLE login_attempts ADD COLUMN device TEXT NOT NULL DEFAULT '';
UPDATE login_attempts SET client_key = COALESCE(client_ip, '');

DROP INDEX login_attempts_ip_at;
CREATE INDEX login_attempts_client_key_at ON login_attempts (client_key, at);
CREATE INDEX login_attempts_device_at ON login_attempts (device, at);

-- Accounts created (or being created) per client address, for
-- max_registrations_per_ip. Rows older than the hour are deleted as new ones
-- come in, so the table holds at most one hour of registrations.
CREATE TABLE registrations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    client_key TEXT   NOT NULL,
    at         BIGINT NOT NULL
);

CREATE INDEX registrations_client_key_at ON registrations (client_key, at);
CREATE INDEX registrations_at ON registrations (at);
