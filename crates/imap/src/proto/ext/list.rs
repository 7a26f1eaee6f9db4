//! LIST in every form (RFC 5258 §3, RFC 5819 §2, RFC 6154 §5.1, RFC 9051 §6.3.9):
//!
//! ```abnf
//! list             = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
//!                    [SP list-return-opts]
//! list-select-opts = "(" [list-select-opt *(SP list-select-opt)] ")"
//! list-select-opt  = "SUBSCRIBED" / "REMOTE" / "RECURSIVEMATCH" / "SPECIAL-USE"
//! mbox-or-pat      = list-mailbox / patterns
//! patterns         = "(" list-mailbox *(SP list-mailbox) ")"
//! list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
//! return-option    = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
//!                    "STATUS" SP "(" status-att *(SP status-att) ")"
//! ```

use imap_codec::imap_types::status::StatusDataItemName;

use super::{Cursor, ListRequest, ListReturn, ListSelection, SyntaxError};

/// Parses from just after `LIST`.
pub(super) fn parse(c: &mut Cursor<'_>) -> Result<ListRequest, SyntaxError> {
    c.sp()?;
    let mut extended = false;
    let mut selection = ListSelection::default();
    if c.at(b'(') {
        extended = true;
        selection = selection_options(c)?;
        c.sp()?;
    }
    let reference = c.astring()?;
    c.sp()?;
    let patterns = if c.at(b'(') {
        extended = true;
        c.paren_list(false, Cursor::list_mailbox)?
    } else {
        vec![c.list_mailbox()?]
    };
    let mut returns = ListReturn::default();
    if c.eat(b' ') {
        if !c.keyword("RETURN") {
            return Err(SyntaxError("expected RETURN"));
        }
        c.sp()?;
        extended = true;
        returns = return_options(c)?;
    }
    c.end()?;
    Ok(ListRequest {
        selection,
        reference,
        patterns,
        returns,
        extended,
    })
}

fn selection_options(c: &mut Cursor<'_>) -> Result<ListSelection, SyntaxError> {
    let mut s = ListSelection::default();
    c.paren_list(true, |c| {
        let flag = if c.keyword("SUBSCRIBED") {
            &mut s.subscribed
        } else if c.keyword("REMOTE") {
            &mut s.remote
        } else if c.keyword("RECURSIVEMATCH") {
            &mut s.recursive_match
        } else if c.keyword("SPECIAL-USE") {
            &mut s.special_use
        } else {
            // RFC 5258 §3: an unrecognised selection option is answered BAD.
            return Err(SyntaxError("unknown LIST selection option"));
        };
        *flag = true;
        Ok(())
    })?;
    // RFC 5258 §3: RECURSIVEMATCH needs a base option to modify (SUBSCRIBED here, or
    // SPECIAL-USE per RFC 6154 §5.1); alone (or with REMOTE only) it is BAD.
    if s.recursive_match && !(s.subscribed || s.special_use) {
        return Err(SyntaxError("RECURSIVEMATCH needs another selection option"));
    }
    Ok(s)
}

fn return_options(c: &mut Cursor<'_>) -> Result<ListReturn, SyntaxError> {
    let mut r = ListReturn::default();
    c.paren_list(true, |c| {
        if c.keyword("SUBSCRIBED") {
            r.subscribed = true;
        } else if c.keyword("CHILDREN") {
            r.children = true;
        } else if c.keyword("SPECIAL-USE") {
            r.special_use = true;
        } else if c.keyword("STATUS") {
            // RFC 5819 §2: STATUS with the STATUS command's attribute list.
            c.sp()?;
            let items = c.paren_list(false, status_att)?;
            r.status.get_or_insert_with(Vec::new).extend(items);
        } else {
            return Err(SyntaxError("unknown LIST return option"));
        }
        Ok(())
    })?;
    Ok(r)
}

/// RFC 9051 §9 `status-att`, with RFC 7162 HIGHESTMODSEQ and RFC 8438 SIZE.
pub(super) fn status_att(c: &mut Cursor<'_>) -> Result<StatusDataItemName, SyntaxError> {
    use StatusDataItemName as S;
    let table: [(&str, S); 9] = [
        ("MESSAGES", S::Messages),
        ("RECENT", S::Recent),
        ("UIDNEXT", S::UidNext),
        ("UIDVALIDITY", S::UidValidity),
        ("UNSEEN", S::Unseen),
        ("DELETED-STORAGE", S::DeletedStorage),
        ("DELETED", S::Deleted),
        ("SIZE", S::Size),
        ("HIGHESTMODSEQ", S::HighestModSeq),
    ];
    table
        .into_iter()
        .find(|(word, _)| c.keyword(word))
        .map(|(_, item)| item)
        .ok_or(SyntaxError("unknown STATUS attribute"))
}
