-- How far the hub has turned its own answers and check-ins into xAPI statements (by rowid).
CREATE TABLE cursors (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
