-- Users. Usernames keep the case they were registered with but are unique
-- regardless of case: the expression index enforces it and serves lookups.
CREATE TABLE users (
    -- AUTOINCREMENT: ids are never reused, so a cookie naming a deleted
    -- account can never come to name a newer one.
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL CHECK (length(username) BETWEEN 3 AND 32),
    password_hash  TEXT    NOT NULL,
    -- NULL while the account is active; when it was deactivated otherwise.
    -- (A timestamp rather than a boolean: it says more, and it reads the
    -- same through sqlx's Any driver on both backends.)
    deactivated_at BIGINT,
    created_at     BIGINT  NOT NULL
);

CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
