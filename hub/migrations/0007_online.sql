-- Online activity imported from LMS downloads (Moodle logs, Canvas access reports): who (the LMS's
-- own name for them, to match to the roster), when, what, how often. `dedup` makes re-imports
-- idempotent: a Moodle line is itself; a Canvas row is one user and item, updated as views grow.

CREATE TABLE online_events (
    id       INTEGER PRIMARY KEY,
    origin   TEXT NOT NULL,
    identity TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    activity TEXT NOT NULL,
    count    INTEGER NOT NULL,
    dedup    TEXT NOT NULL UNIQUE
);
CREATE INDEX online_events_identity ON online_events (identity, at_ms);
