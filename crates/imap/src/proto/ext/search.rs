//! `[UID] SEARCH RETURN (options) [CHARSET x] criteria` (RFC 4731 §3.1, RFC 5182 §2,
//! RFC 9051 §6.4.4):
//!
//! ```abnf
//! search             = "SEARCH" [search-return-opts] SP search-program
//! search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
//! search-return-opt  = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
//! search-program     = ["CHARSET" SP charset SP] search-key *(SP search-key)
//! ```
//!
//! We read the RETURN options; the search program, whose grammar imap-codec knows, is
//! handed to imap-codec's command decoder as a plain SEARCH.

use imap_codec::{
    CommandCodec,
    decode::Decoder,
    imap_types::{ToStatic, command::CommandBody, core::Tag},
};

use super::{Cursor, SearchRequest, SearchReturn, SyntaxError};

/// Parses from just after `SEARCH`.
pub(super) fn parse(
    c: &mut Cursor<'_>,
    tag: &Tag<'static>,
    uid: bool,
) -> Result<SearchRequest, SyntaxError> {
    c.sp()?;
    if !c.keyword("RETURN") {
        return Err(SyntaxError("expected RETURN"));
    }
    c.sp()?;
    let mut options = SearchReturn::default();
    c.paren_list(true, |c| {
        let flag = if c.keyword("MIN") {
            &mut options.min
        } else if c.keyword("MAX") {
            &mut options.max
        } else if c.keyword("ALL") {
            &mut options.all
        } else if c.keyword("COUNT") {
            &mut options.count
        } else if c.keyword("SAVE") {
            &mut options.save
        } else {
            // RFC 4466 §2.6.1: a server MUST reject a result option it does not know.
            return Err(SyntaxError("unknown SEARCH RETURN option"));
        };
        *flag = true;
        Ok(())
    })?;
    c.sp()?;
    let program = c.rest();
    if !program.ends_with(b"\r\n") {
        return Err(SyntaxError("the command must end with CRLF"));
    }
    let mut plain = Vec::with_capacity(program.len() + 32);
    plain.extend_from_slice(tag.as_ref().as_bytes());
    plain.extend_from_slice(if uid { b" UID SEARCH " } else { b" SEARCH " });
    plain.extend_from_slice(program);
    let decoded = CommandCodec::default().decode(&plain);
    let Ok((b"", command)) = decoded else {
        return Err(SyntaxError("bad search criteria"));
    };
    let CommandBody::Search {
        charset, criteria, ..
    } = command.body
    else {
        return Err(SyntaxError("bad search criteria"));
    };
    Ok(SearchRequest {
        uid,
        options: options.all_if_empty(),
        charset: charset.map(|c| c.to_static()),
        criteria: criteria.to_static(),
    })
}
