-- What stays when raw data passes its retention: per question, the tally of latest answers; per
-- session, its attendance and response figures. Counts only, no student in them.

CREATE TABLE question_tallies (
    question_id INTEGER PRIMARY KEY,
    counts      TEXT NOT NULL,
    answered    INTEGER NOT NULL,
    kept_ms     INTEGER NOT NULL
);

CREATE TABLE session_summaries (
    session_id        INTEGER PRIMARY KEY,
    present           INTEGER NOT NULL,
    late              INTEGER NOT NULL,
    absent            INTEGER NOT NULL,
    excused           INTEGER NOT NULL,
    questions         INTEGER NOT NULL,
    response_rate_pct INTEGER,
    correct_rate_pct  INTEGER,
    kept_ms           INTEGER NOT NULL
);
