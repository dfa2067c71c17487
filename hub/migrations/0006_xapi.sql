-- xAPI: the sources allowed to send statements (HTTP Basic: a key and a secret, only its SHA-256
-- kept) and the statements, each with the fields the statement resource filters on.

CREATE TABLE xapi_sources (
    name          TEXT PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,
    secret_sha256 TEXT NOT NULL,
    created_ms    INTEGER NOT NULL
);

CREATE TABLE xapi_statements (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,
    stored_ms    INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    agent        TEXT,
    verb         TEXT NOT NULL,
    activity     TEXT,
    registration TEXT,
    voids        TEXT,
    voided       INTEGER NOT NULL DEFAULT 0,
    json         TEXT NOT NULL
);
CREATE INDEX xapi_statements_agent ON xapi_statements (agent, seq);
CREATE INDEX xapi_statements_verb ON xapi_statements (verb, seq);
CREATE INDEX xapi_statements_activity ON xapi_statements (activity, seq);
CREATE INDEX xapi_statements_stored ON xapi_statements (stored_ms);
