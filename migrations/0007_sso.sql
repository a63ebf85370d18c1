-- 0007: host-site sign-in (SPEC §3, src/sso.rs). What each column is for is commented in
-- schema.sql: the site's user id of a user it signs in (one user per id), and the picture URL
-- it gave.

ALTER TABLE users ADD COLUMN sso_subject TEXT;
ALTER TABLE users ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX IF NOT EXISTS users_by_sso_subject ON users (sso_subject)
    WHERE sso_subject IS NOT NULL;

UPDATE schema_meta SET version = MAX(version, 7) WHERE id = 1;
