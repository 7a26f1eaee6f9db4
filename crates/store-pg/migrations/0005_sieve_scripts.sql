-- certmail store schema, version 5: Sieve scripts (RFC 5804's model).
--
-- Per account, named (case-sensitive, hence COLLATE "C"), the text sealed as in sled (AAD
-- `script/<account>/<name>`), at most one active per account (the partial unique index).
CREATE TABLE sieve_scripts (
    account text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name text COLLATE "C" NOT NULL,
    sealed bytea NOT NULL,
    active boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account, name)
);
CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts (account) WHERE active;
