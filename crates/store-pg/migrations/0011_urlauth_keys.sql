-- Version 11: URLAUTH access keys (RFC 4467 §7), one per user and mailbox, sealed with the
-- store key. Keyed by the mailbox's id, a key follows its mailbox through renames and goes
-- with it; it goes with the user's account too (both ON DELETE CASCADE).
CREATE TABLE urlauth_keys (
    mailbox_id  bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    account     text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    sealed      bytea NOT NULL,
    PRIMARY KEY (mailbox_id, account)
);
CREATE INDEX urlauth_keys_account ON urlauth_keys (account);
