-- certmail store schema, version 2: subscriptions apart from mailboxes.
--
-- RFC 3501 §6.3.6: the server "MUST NOT unilaterally remove an existing mailbox name from
-- the subscription list even if a mailbox by that name no longer exists", so a
-- subscription is a name in a per-account list, not a flag on the mailbox row (which
-- DELETE removes). The flags set so far become list entries.
CREATE TABLE subscriptions (
    account text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name text COLLATE "C" NOT NULL,
    PRIMARY KEY (account, name)
);
INSERT INTO subscriptions (account, name)
    SELECT account, name FROM mailboxes WHERE subscribed;
ALTER TABLE mailboxes DROP COLUMN subscribed;
