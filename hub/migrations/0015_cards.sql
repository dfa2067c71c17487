-- School cards for check-in at the hub's reader: a card is known by a keyed hash of its UID (never
-- the UID itself), and each tap in a running session is kept beside the clickers' check-ins.
CREATE TABLE cards (
    card_hash TEXT PRIMARY KEY,
    student   TEXT NOT NULL,
    added_ms  INTEGER NOT NULL
);
CREATE INDEX cards_student ON cards (student);

CREATE TABLE card_checkins (
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    student    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX card_checkins_session ON card_checkins (session_id);
