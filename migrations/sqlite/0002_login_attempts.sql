-- Every login attempt and logout: the audit trail shown on /settings and by
-- `wristband users history`, and the counts that throttling reads (kept in
-- the database so limits hold across restarts and across instances).
CREATE TABLE login_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL when the username matched no account. Deleting an account
    -- deletes its history.
    user_id      BIGINT REFERENCES users (id) ON DELETE CASCADE,
    -- The username as typed, lower-cased: throttling counts per name,
    -- including names that do not exist.
    username_key TEXT   NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    outcome      TEXT   NOT NULL,
    at           BIGINT NOT NULL
);

CREATE INDEX login_attempts_username_at ON login_attempts (username_key, at);
CREATE INDEX login_attempts_ip_at ON login_attempts (client_ip, at);
CREATE INDEX login_attempts_user_at ON login_attempts (user_id, at);
