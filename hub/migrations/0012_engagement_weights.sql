-- The weights a teacher gave the four parts of a class's blended index (percent).
CREATE TABLE engagement_weights (
    class_name      TEXT PRIMARY KEY,
    attendance      INTEGER NOT NULL,
    response        INTEGER NOT NULL,
    online_days     INTEGER NOT NULL,
    online_activity INTEGER NOT NULL,
    set_by          TEXT NOT NULL,
    set_ms          INTEGER NOT NULL
);
