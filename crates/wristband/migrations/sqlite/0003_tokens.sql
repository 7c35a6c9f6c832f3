-- Personal access tokens for API clients (`Authorization: Bearer wb_...`),
-- on the same pattern as the session registry: only the SHA-256 of each
-- token is stored, named in pages by a random public id. Revoking one
-- deletes its row.
CREATE TABLE wristband_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What the settings page and the CLI name a token by; never the secret.
    public_id   TEXT    NOT NULL UNIQUE,
    -- SHA-256 of the whole token, hex. The token itself is never stored.
    token_hash  TEXT    NOT NULL UNIQUE,
    -- The host app's user id, as text (no foreign key: see the sessions).
    user_id     TEXT    NOT NULL,
    -- The owner's label for it ("deploy script").
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    -- 0 until first used; written at most every five minutes after.
    last_used   BIGINT  NOT NULL,
    -- A token that never expires holds 253402300799 (9999-12-31), so every
    -- comparison stays a plain one.
    expires_at  BIGINT  NOT NULL
);

CREATE INDEX wristband_tokens_user ON wristband_tokens (user_id);
CREATE INDEX wristband_tokens_expires ON wristband_tokens (expires_at);
