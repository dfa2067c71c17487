-- Dashboard accounts, their logins and the projector links: who may see and do what.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('teacher', 'technician', 'admin')),
    password_hash TEXT NOT NULL,
    created_ms    INTEGER NOT NULL
);

-- A login: the SHA-256 of the cookie's token (the token itself is never stored).
CREATE TABLE logins (
    token_digest TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER NOT NULL
);
CREATE INDEX logins_expiry ON logins (expires_ms);

-- The read-only projector link of a room; rotating it replaces the token.
CREATE TABLE projector_links (
    room       TEXT PRIMARY KEY,
    token      TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL
);
