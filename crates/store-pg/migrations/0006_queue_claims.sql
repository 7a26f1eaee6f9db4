-- Claims on outbound queue entries (issue 17): every node runs deliveries, and an entry is
-- one node's while its claim lives. A node claims due entries with
-- SELECT … FOR UPDATE SKIP LOCKED, renews its claims while their deliveries run, and a
-- claim not renewed (the node died) lapses at lease_until, when another node may take the
-- entry over. Times are the database's clock, so the nodes' clocks need not agree.
ALTER TABLE queue
    ADD COLUMN claimed_by text COLLATE "C",
    ADD COLUMN lease_until timestamptz;
