-- Every login attempt and logout: the audit trail, and the counts that
-- throttling reads (kept in the database so limits hold across restarts and
-- across instances). An attempt is written as 'pending' before its password
-- is checked (a reserved place in the budget), then updated to its outcome.
CREATE TABLE wristband_login_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The host's user id as text; NULL when the login matched no account.
    user_id      TEXT,
    -- The login as typed, lower-cased: throttling counts per name,
    -- including names that do not exist.
    login_key    TEXT   NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    outcome      TEXT   NOT NULL,
    at           BIGINT NOT NULL,
    -- What per-address limits count by (an IPv4 address, or the /64 of an
    -- IPv6 one); client_ip stays the full address for the audit trail.
    client_key   TEXT   NOT NULL DEFAULT '',
    -- The device-cookie id of a browser that proved the password before,
    -- '' for every other attempt. '' rather than NULL, so the counts compare
    -- plain values and nothing NULL crosses sqlx's Any driver.
    device       TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX wristband_login_attempts_login_at ON wristband_login_attempts (login_key, at);
CREATE INDEX wristband_login_attempts_user_at ON wristband_login_attempts (user_id, at);
CREATE INDEX wristband_login_attempts_client_key_at ON wristband_login_attempts (client_key, at);
CREATE INDEX wristband_login_attempts_device_at ON wristband_login_attempts (device, at);
-- Pruning deletes the oldest rows first, in bounded batches.
CREATE INDEX wristband_login_attempts_at ON wristband_login_attempts (at);

-- Accounts created (or being created) per client address, for
-- max_registrations_per_ip. Rows older than the hour are deleted as new ones
-- come in, so the table holds at most one hour of registrations.
CREATE TABLE wristband_registrations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    client_key TEXT   NOT NULL,
    at         BIGINT NOT NULL
);

CREATE INDEX wristband_registrations_client_key_at ON wristband_registrations (client_key, at);
CREATE INDEX wristband_registrations_at ON wristband_registrations (at);
