-- The roster from OneRoster 1.1 CSV: schools, terms, courses, classes, people and enrollments, keyed
-- by their sourcedId. Every value is text as the CSV gave it (booleans 'true'/'false'). E-mail is
-- never stored: only its keyed hash, for matching online accounts.

CREATE TABLE roster_orgs (
    sourced_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    parent     TEXT
);

CREATE TABLE roster_terms (
    sourced_id TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date   TEXT NOT NULL
);

CREATE TABLE roster_courses (
    sourced_id TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    org        TEXT NOT NULL,
    code       TEXT
);

CREATE TABLE roster_classes (
    sourced_id TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    course     TEXT NOT NULL,
    school     TEXT NOT NULL,
    code       TEXT,
    location   TEXT
);

CREATE TABLE roster_users (
    sourced_id  TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    username    TEXT NOT NULL,
    given_name  TEXT NOT NULL,
    family_name TEXT NOT NULL,
    identifier  TEXT,
    email_hash  TEXT,
    enabled     TEXT NOT NULL
);

CREATE TABLE roster_enrollments (
    sourced_id TEXT PRIMARY KEY,
    class      TEXT NOT NULL,
    school     TEXT NOT NULL,
    user       TEXT NOT NULL,
    role       TEXT NOT NULL,
    is_primary TEXT NOT NULL
);
CREATE INDEX roster_enrollments_class ON roster_enrollments (class);
CREATE INDEX roster_enrollments_user ON roster_enrollments (user);

-- Per-school secrets (e.g. the key of the e-mail hashes), made on first use, never shown.
CREATE TABLE school_secrets (
    name       TEXT PRIMARY KEY,
    secret_hex TEXT NOT NULL
);
