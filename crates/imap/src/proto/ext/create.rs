//! CREATE with RFC 4466 parameters, of which we know USE (RFC 6154 §5.2):
//!
//! ```abnf
//! create        = "CREATE" SP mailbox [create-params]
//! create-params = SP "(" create-param *(SP create-param) ")"
//! create-param  = "USE" SP "(" [use-attr *(SP use-attr)] ")"
//! use-attr      = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" /
//!                 "\Sent" / "\Trash" / use-attr-ext
//! ```

use super::{CreateRequest, Cursor, SyntaxError};

/// Parses from just after `CREATE`.
pub(super) fn parse(c: &mut Cursor<'_>) -> Result<CreateRequest, SyntaxError> {
    c.sp()?;
    let mailbox = c.astring()?;
    let mut special_use = Vec::new();
    if c.eat(b' ') {
        c.paren_list(false, |c| {
            if !c.keyword("USE") {
                // RFC 4466 §2.2: an unknown CREATE parameter is answered BAD.
                return Err(SyntaxError("unknown CREATE parameter"));
            }
            c.sp()?;
            let attrs = c.paren_list(true, |c| {
                let attr = c.flag_like()?;
                if !attr.starts_with(b"\\") {
                    return Err(SyntaxError("a USE attribute starts with a backslash"));
                }
                Ok(String::from_utf8_lossy(attr).into_owned())
            })?;
            special_use.extend(attrs);
            Ok(())
        })?;
    }
    c.end()?;
    Ok(CreateRequest {
        mailbox,
        special_use,
    })
}
