-- The registry of wristbands: one row per `user_id` cookie the server
-- issued, keyed by a hash of the cookie's (encrypted) value. A cookie
-- without a live row here is anonymous, so logout, "end this session",
-- password changes and deactivation take effect on the very next request,
-- on every instance.
CREATE TABLE wristband_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What pages and the CLI name a session by; never the hash.
    public_id   TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the cookie's value, hex. The value itself is never stored.
    token_hash  TEXT    NOT NULL UNIQUE,
    -- The host app's user id, as text: the library knows no user table, so
    -- there is no foreign key; the host ends a user's sessions itself when
    -- it deletes or deactivates them, and expired rows are pruned.
    user_id     TEXT    NOT NULL,
    -- 1 for a "remember me" wristband (it lasts remember_days from its
    -- start), 0 for a browser-session one (it lasts session_idle_hours
    -- from its last use).
    remembered  BIGINT  NOT NULL CHECK (remembered IN (0, 1)),
    created_at  BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    client_ip   TEXT    NOT NULL,
    user_agent  TEXT    NOT NULL
);

CREATE INDEX wristband_sessions_user ON wristband_sessions (user_id);
CREATE INDEX wristband_sessions_expires ON wristband_sessions (expires_at);
