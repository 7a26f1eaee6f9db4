-- certmail store schema, version 1. See SCHEMA.md. Text keys use COLLATE "C" so that
-- ordering is bytewise, as in the sled store (mailbox names, account ids).

-- Check values sealed under each key id of the key file (key_check/<id> as AAD).
CREATE TABLE key_checks (
    key_id smallint PRIMARY KEY,
    sealed bytea NOT NULL
);

-- Store-wide counters: uid_validity (floor: the clock, as in sled).
CREATE TABLE counters (
    name text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('uid_validity', 0);

-- Accounts: the postcard-encoded Account, sealed with AAD accounts/<id>.
CREATE TABLE accounts (
    id text COLLATE "C" PRIMARY KEY,
    sealed bytea NOT NULL
);

CREATE TABLE addresses (
    address text COLLATE "C" PRIMARY KEY,
    account text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
);
CREATE INDEX addresses_account ON addresses (account);

CREATE TABLE aliases (
    address text COLLATE "C" PRIMARY KEY,
    members text[] NOT NULL
);

CREATE TABLE cert_bindings (
    spki bytea PRIMARY KEY CHECK (length(spki) = 32),
    account text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    issuer_dn text COLLATE "C" NOT NULL,
    subject_dn text COLLATE "C" NOT NULL,
    serial_hex text NOT NULL,
    not_after bigint NOT NULL,
    bound_at bigint NOT NULL
);
CREATE INDEX cert_bindings_account ON cert_bindings (account, spki);
CREATE INDEX cert_bindings_dn ON cert_bindings (issuer_dn, subject_dn, spki);

-- Mailboxes with their IMAP counters. Every write to a mailbox's messages holds this
-- row's lock (SELECT ... FOR UPDATE) until COMMIT: UIDs and MODSEQs are allocated under it.
CREATE TABLE mailboxes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account text COLLATE "C" NOT NULL REFERENCES accounts (id),
    name text COLLATE "C" NOT NULL,
    uid_validity bigint NOT NULL,
    uid_next bigint NOT NULL,
    highest_modseq bigint NOT NULL,
    special_use text,
    subscribed boolean NOT NULL,
    message_count bigint NOT NULL DEFAULT 0,
    total_size bigint NOT NULL DEFAULT 0,
    UNIQUE (account, name)
);

-- Message bodies, once per content (id = SHA-256 of the plaintext), reference-counted:
-- one reference per message row and per queue entry. The sealed body (AAD blobs/<id>) is
-- split into blob_chunks rows; summary is the sealed cache (AAD summaries/<id>).
CREATE TABLE blobs (
    id bytea PRIMARY KEY CHECK (length(id) = 32),
    refs bigint NOT NULL,
    chunks integer NOT NULL,
    summary bytea
);

CREATE TABLE blob_chunks (
    blob bytea NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (blob, seq)
);

CREATE TABLE messages (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id),
    uid bigint NOT NULL,
    modseq bigint NOT NULL,
    flags text[] NOT NULL,
    internal_date bigint NOT NULL,
    size bigint NOT NULL,
    blob bytea NOT NULL REFERENCES blobs (id),
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
-- Who may read a body: an account holding a message with it.
CREATE INDEX messages_blob ON messages (blob, mailbox_id);

-- RFC 7162 VANISHED: UIDs expunged, with the MODSEQ of the expunge.
CREATE TABLE expunged (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    uid bigint NOT NULL,
    modseq bigint NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);

CREATE TABLE queue (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender text NOT NULL,
    recipients jsonb NOT NULL,
    blob bytea NOT NULL REFERENCES blobs (id),
    created_at bigint NOT NULL,
    next_attempt bigint NOT NULL,
    envelope_meta jsonb NOT NULL
);
CREATE INDEX queue_next_attempt ON queue (next_attempt);

-- The device registry; kept without a foreign key, as in sled (a device may be recorded
-- before or without its account).
CREATE TABLE devices (
    account text COLLATE "C" NOT NULL,
    spki bytea NOT NULL,
    network text COLLATE "C" NOT NULL,
    first_seen bigint NOT NULL,
    last_seen bigint NOT NULL,
    totp_at bigint,
    PRIMARY KEY (account, spki, network)
);

CREATE TABLE audit (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms bigint NOT NULL,
    account text COLLATE "C",
    kind text NOT NULL,
    ip text,
    fields jsonb NOT NULL
);
CREATE INDEX audit_time ON audit (at_ms, seq);
CREATE INDEX audit_account ON audit (account, at_ms, seq) WHERE account IS NOT NULL;
