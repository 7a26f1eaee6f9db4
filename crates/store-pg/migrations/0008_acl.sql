-- certmail store schema, version 5: shared mailboxes (RFC 4314 access control lists).
--
-- An entry grants rights (canonical letters of "lrswipkxtea") on one mailbox to an
-- identifier: an account id, "org:" and an organisation name, or "anyone". Keyed by the
-- mailbox's id, an entry follows its mailbox through renames and goes with it (CASCADE).
CREATE TABLE mailbox_acl (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    identifier text COLLATE "C" NOT NULL,
    rights text NOT NULL,
    PRIMARY KEY (mailbox_id, identifier)
);
CREATE INDEX mailbox_acl_identifier ON mailbox_acl (identifier);

-- Per-reader \Seen on shared mailboxes: the UIDs each reader other than the owner has seen.
CREATE TABLE shared_seen (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    reader text COLLATE "C" NOT NULL,
    uid bigint NOT NULL,
    PRIMARY KEY (mailbox_id, reader, uid)
);
CREATE INDEX shared_seen_reader ON shared_seen (reader);
