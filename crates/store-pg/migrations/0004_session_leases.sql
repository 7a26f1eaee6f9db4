-- The cluster's session registry (issue 17): one row per (account, node) where the
-- account's one signed-in device has connections. Every row of an account names the same
-- device (certificate SPKI hash and address); a sign-in from another device deletes the
-- other nodes' rows in its transaction and tells those nodes to end their connections.
-- A node renews its rows' lease while it lives; a row whose lease has passed is ignored
-- and removed, so a dead node's sessions stop counting after at most the lease time.
CREATE TABLE session_leases (
    account     text COLLATE "C" NOT NULL,
    node        text COLLATE "C" NOT NULL,
    session_id  bigint NOT NULL,
    spki        bytea NOT NULL,
    ip          text NOT NULL,
    since       bigint NOT NULL,
    protocols   text[] NOT NULL,
    connections integer NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (account, node)
);
CREATE INDEX session_leases_node ON session_leases (node);
