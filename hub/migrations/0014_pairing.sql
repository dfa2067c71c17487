-- Pairing windows (one open per room at a time) and what pairing adds to a clicker: when it was
-- retired (unpaired, replaced, or a loaner whose session ended; its history stays with its student),
-- whether it is a loaner, and the window it was paired in.
CREATE TABLE pairing_windows (
    id           INTEGER PRIMARY KEY,
    room         TEXT NOT NULL,
    mode         TEXT NOT NULL,
    target       TEXT,
    replaces     TEXT,
    code         TEXT NOT NULL,
    opened_ms    INTEGER NOT NULL,
    until_ms     INTEGER NOT NULL,
    closed_ms    INTEGER,
    close_reason TEXT,
    wrong        INTEGER NOT NULL DEFAULT 0,
    paired       INTEGER NOT NULL DEFAULT 0,
    opened_by    TEXT NOT NULL
);
CREATE INDEX pairing_windows_open ON pairing_windows (closed_ms, room);

ALTER TABLE devices ADD COLUMN retired_ms INTEGER;
ALTER TABLE devices ADD COLUMN loaner INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN paired_in INTEGER;
