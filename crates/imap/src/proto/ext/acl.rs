//! The RFC 4314 §3 commands (imap-codec does not read them):
//!
//! ```abnf
//! setacl     = "SETACL" SP mailbox SP identifier SP mod-rights
//! deleteacl  = "DELETEACL" SP mailbox SP identifier
//! getacl     = "GETACL" SP mailbox
//! listrights = "LISTRIGHTS" SP mailbox SP identifier
//! myrights   = "MYRIGHTS" SP mailbox
//! identifier = astring
//! mod-rights = astring     ; +rights, -rights or rights
//! ```

use super::{AclRequest, Cursor, SyntaxError};

/// How SETACL changes the identifier's rights (RFC 4314 §3.1): the store applies it.
pub use certmail_store::acl::RightsChange;

fn text(bytes: Vec<u8>) -> Result<String, SyntaxError> {
    String::from_utf8(bytes).map_err(|_| SyntaxError("an identifier or rights must be UTF-8"))
}

/// Parses from just after the command name (`name`, upper case).
pub(super) fn parse(c: &mut Cursor<'_>, name: &str) -> Result<AclRequest, SyntaxError> {
    c.sp()?;
    let mailbox = c.astring()?;
    let request = match name {
        "GETACL" => AclRequest::GetAcl { mailbox },
        "MYRIGHTS" => AclRequest::MyRights { mailbox },
        _ => {
            c.sp()?;
            let identifier = text(c.astring()?)?;
            match name {
                "DELETEACL" => AclRequest::DeleteAcl {
                    mailbox,
                    identifier,
                },
                "LISTRIGHTS" => AclRequest::ListRights {
                    mailbox,
                    identifier,
                },
                _ => {
                    c.sp()?;
                    let rights = text(c.astring()?)?;
                    let (change, rights) = match rights.as_bytes().first() {
                        Some(b'+') => (RightsChange::Add, rights[1..].to_owned()),
                        Some(b'-') => (RightsChange::Remove, rights[1..].to_owned()),
                        _ => (RightsChange::Replace, rights),
                    };
                    AclRequest::SetAcl {
                        mailbox,
                        identifier,
                        change,
                        rights,
                    }
                }
            }
        }
    };
    c.end()?;
    Ok(request)
}

/// The command names this module reads.
pub(super) const NAMES: [&str; 5] = ["SETACL", "DELETEACL", "GETACL", "LISTRIGHTS", "MYRIGHTS"];
