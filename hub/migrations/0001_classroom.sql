-- classhub's classroom data: devices, sessions, questions, every press and check-in.
-- Times are milliseconds since the Unix epoch (sqlx's Any driver maps only integers, floats, text).

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    key_hex     TEXT NOT NULL,
    room        TEXT NOT NULL,
    student     TEXT,
    created_ms  INTEGER NOT NULL,
    last_seen_ms INTEGER,
    firmware    TEXT,
    battery_mv  INTEGER,
    rssi        INTEGER,
    online      INTEGER NOT NULL DEFAULT 0,
    -- the newest sequence number accepted from this device (u64 stored bit for bit in an i64)
    newest_seq  INTEGER
);
CREATE INDEX devices_room ON devices (room);

CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    room        TEXT NOT NULL,
    class_name  TEXT NOT NULL,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER
);
CREATE INDEX sessions_room ON sessions (room, ended_ms);

CREATE TABLE questions (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    kind        TEXT NOT NULL,
    options     INTEGER NOT NULL,
    correct     TEXT,
    timer_s     INTEGER,
    opened_ms   INTEGER NOT NULL,
    closed_ms   INTEGER,
    revealed_ms INTEGER
);
CREATE INDEX questions_session ON questions (session_id);

-- Every press, kept; the tally counts the latest per device.
CREATE TABLE presses (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    question_id INTEGER NOT NULL REFERENCES questions (id),
    answer      TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX presses_question ON presses (question_id);

CREATE TABLE checkins (
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    session_id  INTEGER REFERENCES sessions (id),
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
