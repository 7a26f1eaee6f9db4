-- Failure counts the nodes share (issue 17): the per-IP sign-in throttles count here in
-- cluster mode, so failures on every node count toward one limit. One row per key (the
-- throttle's name and the address, IPv6 per /64): the window's start (unix seconds) and
-- its count, changed by one atomic upsert per failure; windows that ended are swept.
CREATE TABLE failure_windows (
    key     text COLLATE "C" PRIMARY KEY,
    started bigint NOT NULL,
    count   integer NOT NULL
);
CREATE INDEX failure_windows_started ON failure_windows (started);
