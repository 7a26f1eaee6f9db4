//! The CAPABILITY list (RFC 3501 §7.2.1): what we advertise depends on whether the
//! connection is still plaintext (port 143 before STARTTLS) and whether it is signed in.
//! Advertise nothing that isn't implemented.

use imap_codec::imap_types::{
    auth::AuthMechanism,
    core::{Atom, Vec1},
    response::Capability,
};

/// Where the connection is, as far as capabilities are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapabilityPhase {
    /// Port 143 before STARTTLS: only STARTTLS and LOGINDISABLED (RFC 3501 §6.2.3,
    /// RFC 8314 §3: no sign-in in cleartext).
    Plaintext,
    /// TLS up, not signed in: everything, with the SASL mechanisms.
    TlsNotAuthenticated,
    /// Signed in: everything except the sign-in mechanisms.
    Authenticated,
}

/// The capability list for `phase`. `append_limit` is the largest APPEND literal we accept
/// in octets (RFC 7889 APPENDLIMIT=n); `auth_external` says whether the certificate alone
/// signs in (`[auth] require_password = false`), so that AUTH=EXTERNAL can succeed.
pub fn capabilities(
    phase: CapabilityPhase,
    append_limit: u32,
    auth_external: bool,
) -> Vec1<Capability<'static>> {
    let mut list = vec![Capability::Imap4Rev1];
    match phase {
        CapabilityPhase::Plaintext => {
            list.push(Capability::StartTls);
            list.push(Capability::LoginDisabled);
        }
        CapabilityPhase::TlsNotAuthenticated | CapabilityPhase::Authenticated => {
            // RFC 9051 §6.3.1: IMAP4rev2 beside IMAP4rev1; a client opts in with ENABLE.
            list.push(other("IMAP4rev2"));
            list.extend([
                Capability::LiteralPlus,
                Capability::Id,
                Capability::Enable,
                Capability::Idle,
                Capability::Namespace,
                Capability::UidPlus,
                // RFC 3502: several messages in one APPEND, all or none.
                other("MULTIAPPEND"),
                // RFC 4469: APPEND ... CATENATE (TEXT ... URL ...).
                other("CATENATE"),
                // RFC 4467: GENURLAUTH, RESETKEY and URLFETCH, mechanism INTERNAL.
                other("URLAUTH"),
                // RFC 5524: URLFETCH (url BINARY BODYPARTSTRUCTURE BODY).
                other("URLAUTH=BINARY"),
                Capability::Move,
                Capability::Unselect,
                other("CHILDREN"),
                other("SPECIAL-USE"),
                Capability::CondStore,
            ]);
            list.extend(newer_extensions());
            list.push(other(&format!("APPENDLIMIT={append_limit}")));
            // Parsed by our own parser (proto::ext) or imap-codec's ext_status_size.
            list.extend(
                [
                    "ESEARCH",
                    // RFC 5267 §4: SEARCH and SORT RETURN (UPDATE PARTIAL), CANCELUPDATE.
                    "CONTEXT=SEARCH",
                    "CONTEXT=SORT",
                    // RFC 5465: NOTIFY SET / NONE.
                    "NOTIFY",
                    "SEARCHRES",
                    "LIST-EXTENDED",
                    "LIST-STATUS",
                    "CREATE-SPECIAL-USE",
                    "STATUS=SIZE",
                ]
                .map(other),
            );
            if phase == CapabilityPhase::TlsNotAuthenticated {
                // RFC 3501 §6.2.2: offer only mechanisms that can succeed. Where the
                // password is required as the second factor EXTERNAL alone cannot: it is
                // still understood (and refused with a sentence), but not advertised.
                list.push(Capability::SaslIr);
                list.push(Capability::Auth(AuthMechanism::Plain));
                if auth_external {
                    // RFC 4422 Appendix A: the TLS client certificate is the credential
                    // (Thunderbird's "TLS Certificate" method asks for it).
                    let external = Atom::try_from("EXTERNAL").expect("an atom");
                    list.push(Capability::Auth(AuthMechanism::from(external)));
                }
            }
        }
    }
    Vec1::try_from(list).expect("the list starts with IMAP4rev1")
}

/// RFC 7162 QRESYNC, RFC 3516 BINARY, RFC 9208 QUOTA, RFC 5256 SORT/THREAD, RFC 4978
/// COMPRESS, RFC 4314 ACL: each added here once implemented and tested.
fn newer_extensions() -> Vec<Capability<'static>> {
    [
        "QRESYNC",
        "BINARY",
        "QUOTA",
        "QUOTA=RES-STORAGE",
        "SORT",
        // RFC 5957: DISPLAYFROM and DISPLAYTO.
        "SORT=DISPLAY",
        // RFC 5267 §3: SORT RETURN (MIN MAX ALL COUNT), answered as ESEARCH.
        "ESORT",
        "THREAD=ORDEREDSUBJECT",
        "THREAD=REFERENCES",
        "COMPRESS=DEFLATE",
        // RFC 4314: access control lists, with the rights split as RFC 4314 §2.1.1 names
        // them (t, e, x and k).
        "ACL",
        "RIGHTS=texk",
    ]
    .into_iter()
    .map(other)
    .collect()
}

fn other(name: &str) -> Capability<'static> {
    Capability::from(Atom::try_from(name.to_string()).expect("capability names are atoms"))
}

/// What the client has enabled on this connection (RFC 5161 ENABLE, or as a side effect
/// of a command that uses the extension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// RFC 7162 CONDSTORE (ENABLE, SELECT (CONDSTORE), or a MODSEQ-using command).
    pub condstore: bool,
    /// RFC 7162 QRESYNC (ENABLE QRESYNC, which implies CONDSTORE): VANISHED instead of
    /// EXPUNGE.
    pub qresync: bool,
    /// `ENABLE IMAP4rev2` (RFC 9051 §6.3.1): ESEARCH answers, no \Recent, RFC 9051 LIST.
    pub imap4rev2: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(phase: CapabilityPhase) -> Vec<String> {
        capabilities(phase, 52_428_800, false)
            .as_ref()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn external_is_offered_only_where_the_certificate_alone_signs_in() {
        let offered = |external| {
            capabilities(CapabilityPhase::TlsNotAuthenticated, 1, external)
                .as_ref()
                .iter()
                .any(|c| c.to_string() == "AUTH=EXTERNAL")
        };
        assert!(offered(true));
        assert!(!offered(false));
        let signed_in = capabilities(CapabilityPhase::Authenticated, 1, true);
        assert!(
            !signed_in
                .as_ref()
                .iter()
                .any(|c| c.to_string().starts_with("AUTH="))
        );
    }

    #[test]
    fn plaintext_offers_only_starttls() {
        assert_eq!(
            names(CapabilityPhase::Plaintext),
            ["IMAP4REV1", "STARTTLS", "LOGINDISABLED"]
        );
    }

    #[test]
    fn tls_offers_extensions_and_mechanisms() {
        let caps = names(CapabilityPhase::TlsNotAuthenticated).join(" ");
        assert_eq!(
            caps,
            "IMAP4REV1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MULTIAPPEND CATENATE URLAUTH URLAUTH=BINARY MOVE UNSELECT CHILDREN \
             SPECIAL-USE CONDSTORE QRESYNC BINARY QUOTA QUOTA=RES-STORAGE SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT \
             THREAD=REFERENCES COMPRESS=DEFLATE ACL RIGHTS=texk APPENDLIMIT=52428800 ESEARCH CONTEXT=SEARCH CONTEXT=SORT NOTIFY SEARCHRES LIST-EXTENDED \
             LIST-STATUS CREATE-SPECIAL-USE STATUS=SIZE SASL-IR AUTH=PLAIN"
        );
        let after = names(CapabilityPhase::Authenticated).join(" ");
        // No SASL mechanism after sign-in (URLAUTH=BINARY is no AUTH= capability).
        assert!(
            !after.split(' ').any(|c| c.starts_with("AUTH="))
                && !after.contains("STARTTLS")
                && after.contains("CONDSTORE")
        );
    }
}
