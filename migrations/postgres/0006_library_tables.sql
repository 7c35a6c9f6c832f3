-- Sessions, login attempts and registrations now belong to the wristband
-- library, in its own `wristband_*` tables (created by its own migrations,
-- keyed by the user id as text). The app's copies go; a wristband issued
-- before this is no longer registered, so it reads as anonymous.
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS login_attempts;
DROP TABLE IF EXISTS registrations;
