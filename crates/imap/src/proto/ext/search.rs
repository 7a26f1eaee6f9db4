//! `[UID] SEARCH RETURN (options) [CHARSET x] criteria` (RFC 4731 §3.1, RFC 5182 §2,
//! RFC 9051 §6.4.4) and `[UID] SORT RETURN (options) (criteria) charset criteria`
//! (RFC 5267 §3.1 ESORT):
//!
//! ```abnf
//! search             = "SEARCH" [search-return-opts] SP search-program
//! search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
//! search-return-opt  = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
//! search-program     = ["CHARSET" SP charset SP] search-key *(SP search-key)
//! sort               = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
//!                      search-charset 1*(SP search-key)
//! ```
//!
//! We read the RETURN options; the rest, whose grammar imap-codec knows, is handed to
//! imap-codec's command decoder as a plain SEARCH or SORT.

use imap_codec::{
    CommandCodec,
    decode::Decoder,
    imap_types::{ToStatic, command::CommandBody, core::Tag},
};

use super::{Cursor, SearchRequest, SearchReturn, SortRequest, SyntaxError};

/// Parses from just after `SEARCH`.
pub(super) fn parse(
    c: &mut Cursor<'_>,
    tag: &Tag<'static>,
    uid: bool,
) -> Result<SearchRequest, SyntaxError> {
    let options = return_options(c, true)?;
    if options.update && options.save {
        return Err(SyntaxError("UPDATE and SAVE cannot be combined"));
    }
    let CommandBody::Search {
        charset, criteria, ..
    } = decode_plain(tag, uid, "SEARCH", c.rest())?
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

/// Parses from just after `SORT` (RFC 5267 §3.1, §4: ESEARCH's options without SAVE, and
/// UPDATE, CONTEXT and PARTIAL).
pub(super) fn parse_sort(
    c: &mut Cursor<'_>,
    tag: &Tag<'static>,
    uid: bool,
) -> Result<SortRequest, SyntaxError> {
    let options = return_options(c, false)?;
    let CommandBody::Sort {
        sort_criteria,
        charset,
        search_criteria,
        ..
    } = decode_plain(tag, uid, "SORT", c.rest())?
    else {
        return Err(SyntaxError("bad sort criteria"));
    };
    Ok(SortRequest {
        uid,
        options: options.all_if_empty(),
        criteria: sort_criteria,
        charset: charset.to_static(),
        search: search_criteria.to_static(),
    })
}

/// ` RETURN (options) `: the RFC 4731 §3.1 result options, RFC 5267's UPDATE, CONTEXT (a
/// hint we need not act on) and PARTIAL, and for SEARCH (`search`) SAVE (RFC 5182).
fn return_options(c: &mut Cursor<'_>, search: bool) -> Result<SearchReturn, SyntaxError> {
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
        } else if search && c.keyword("SAVE") {
            &mut options.save
        } else if c.keyword("UPDATE") {
            &mut options.update
        } else if c.keyword("CONTEXT") {
            return Ok(());
        } else if c.keyword("PARTIAL") {
            c.sp()?;
            options.partial = Some(partial_range(c)?);
            return Ok(());
        } else {
            // RFC 4466 §2.6.1: a server MUST reject a result option it does not know.
            return Err(SyntaxError("unknown RETURN option"));
        };
        *flag = true;
        Ok(())
    })?;
    c.sp()?;
    Ok(options)
}

/// RFC 5267 §4.4 `partial-range = nz-number ":" nz-number`, in either order.
fn partial_range(c: &mut Cursor<'_>) -> Result<(u32, u32), SyntaxError> {
    let first = c.number()?;
    c.expect(b':', "PARTIAL takes a range such as 1:100")?;
    let second = c.number()?;
    if first == 0 || second == 0 {
        return Err(SyntaxError("PARTIAL positions start at 1"));
    }
    Ok((first.min(second), first.max(second)))
}

/// `tag [UID] NAME program` decoded by imap-codec (`program` ends with CRLF).
fn decode_plain(
    tag: &Tag<'static>,
    uid: bool,
    name: &str,
    program: &[u8],
) -> Result<CommandBody<'static>, SyntaxError> {
    if !program.ends_with(b"\r\n") {
        return Err(SyntaxError("the command must end with CRLF"));
    }
    let mut plain = Vec::with_capacity(program.len() + 32);
    plain.extend_from_slice(tag.as_ref().as_bytes());
    plain.extend_from_slice(if uid { b" UID " } else { b" " });
    plain.extend_from_slice(name.as_bytes());
    plain.push(b' ');
    plain.extend_from_slice(program);
    match CommandCodec::default().decode(&plain) {
        Ok((b"", command)) => Ok(command.body.to_static()),
        _ => Err(SyntaxError("bad search criteria")),
    }
}
