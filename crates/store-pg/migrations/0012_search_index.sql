-- certmail store schema, version 11: the full-text search index (certmail_store::search_index).
--
-- One row per body that local mail holds, written in the transaction that stores the
-- message: `postings` are the first 8 bytes (as bigint) of HMAC-SHA256 of each distinct
-- n-gram of its decoded, lowercased text, keyed from the store key, so no text is held in
-- clear. `indexed` is false for a body with too many n-grams to index (a candidate of
-- every search). The row goes with its body (ON DELETE CASCADE). SEARCH asks the GIN
-- index which bodies hold every posting of the needle, then confirms each candidate.
-- Bodies stored before this version have no row and are candidates until
-- `certmail store reindex` gives them one.
CREATE TABLE search_docs (
    blob bytea PRIMARY KEY REFERENCES blobs (id) ON DELETE CASCADE,
    indexed boolean NOT NULL,
    postings bigint[] NOT NULL
);
CREATE INDEX search_docs_postings ON search_docs USING gin (postings);
