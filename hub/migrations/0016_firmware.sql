-- Firmware images (signed: header and payload, as the clickers receive them) and their rollouts to
-- rooms, with each clicker's step.
CREATE TABLE firmware_images (
    id        INTEGER PRIMARY KEY,
    version   TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    image     BLOB NOT NULL,
    added_ms  INTEGER NOT NULL,
    added_by  TEXT NOT NULL
);

CREATE TABLE rollouts (
    id              INTEGER PRIMARY KEY,
    room            TEXT NOT NULL,
    image_id        INTEGER NOT NULL REFERENCES firmware_images (id),
    first_stage     INTEGER NOT NULL,
    max_failure_pct INTEGER NOT NULL,
    started_ms      INTEGER NOT NULL,
    started_by      TEXT NOT NULL,
    phase           TEXT NOT NULL DEFAULT 'new',
    stage           INTEGER NOT NULL DEFAULT 1,
    detail          TEXT,
    ended_ms        INTEGER
);
CREATE INDEX rollouts_open ON rollouts (ended_ms, room);

CREATE TABLE rollout_devices (
    rollout_id INTEGER NOT NULL REFERENCES rollouts (id),
    device_id  TEXT NOT NULL,
    stage      INTEGER NOT NULL,
    step       TEXT NOT NULL,
    next_chunk INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, device_id)
);
