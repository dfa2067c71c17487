-- Attendance: each session's check-in window, and every override a teacher makes (all kept; the
-- newest per student counts).

ALTER TABLE sessions ADD COLUMN checkin_window_ms INTEGER NOT NULL DEFAULT 600000;

CREATE TABLE attendance_overrides (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    student     TEXT NOT NULL,
    mark        TEXT NOT NULL CHECK (mark IN ('present', 'late', 'absent', 'excused')),
    by_user     TEXT NOT NULL,
    at_ms       INTEGER NOT NULL
);
CREATE INDEX attendance_overrides_session ON attendance_overrides (session_id, student, id);
CREATE INDEX checkins_session ON checkins (session_id);
