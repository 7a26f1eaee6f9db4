-- certmail store schema, version 13: Sieve redirect counters (the daily cap).
--
-- One row per account whose scripts redirected: `count` redirects asked for on `day` (days
-- since the Unix epoch, UTC). The delivery transaction that carries a redirect out upserts
-- the row and reads the new count back (the upsert waits for a racing node's row), so two
-- nodes delivering at once never pass the cap together. The first redirect of a new day
-- starts the row again at one: nothing to prune.
CREATE TABLE redirect_days (
    account text COLLATE "C" PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    day bigint NOT NULL,
    count bigint NOT NULL
);
