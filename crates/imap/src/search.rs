//! SEARCH.
