-- A teacher's decisions on online identities that matching could not settle: this identity is
-- that roster student, or (student NULL) not a student at all. Kept with who decided and when.

CREATE TABLE identity_links (
    identity   TEXT PRIMARY KEY,
    student    TEXT,
    decided_by TEXT NOT NULL,
    decided_ms INTEGER NOT NULL
);
