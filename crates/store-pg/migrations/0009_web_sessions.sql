-- Version 9: what the self-service web servers of a cluster share (issue 17): browser
-- sessions (by a hash of their token), TOTP secrets offered and not yet confirmed (sealed),
-- and the key of the form tokens (sealed).
CREATE TABLE web_sessions (
    token_hash  bytea PRIMARY KEY,
    account     text NOT NULL,
    spki        bytea NOT NULL,
    until       bigint NOT NULL,
    ended       text,
    ended_ip    text
);
CREATE INDEX web_sessions_account ON web_sessions (account);
CREATE INDEX web_sessions_until ON web_sessions (until);

CREATE TABLE web_totp_offers (
    account     text PRIMARY KEY,
    sealed      bytea NOT NULL,
    until       bigint NOT NULL
);

CREATE TABLE web_keys (
    name        text PRIMARY KEY,
    sealed      bytea NOT NULL
);
