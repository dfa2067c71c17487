-- What a teacher notes about a student for the engagement picture: no online access at home.
CREATE TABLE student_flags (
    student          TEXT PRIMARY KEY,
    no_online_access INTEGER NOT NULL DEFAULT 0,
    set_by           TEXT NOT NULL,
    set_ms           INTEGER NOT NULL
);
