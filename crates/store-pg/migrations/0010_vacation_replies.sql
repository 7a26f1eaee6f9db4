-- certmail store schema, version 10: vacation reply marks (RFC 5230 §4.2).
--
-- One row per (account, handle, sender) the account's vacation answered: no new reply
-- to that sender for that handle before `until` (Unix seconds). The delivery transaction
-- that queues a reply upserts its row unless a live one exists (the upsert waits for a racing
-- node's row), so two nodes delivering at once send one reply. Expired rows are pruned.
CREATE TABLE vacation_replies (
    account text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    handle text COLLATE "C" NOT NULL,
    sender text COLLATE "C" NOT NULL,
    sent_at bigint NOT NULL,
    until bigint NOT NULL,
    PRIMARY KEY (account, handle, sender)
);
CREATE INDEX vacation_replies_until ON vacation_replies (until);
