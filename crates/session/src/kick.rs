//! Why a session was ended, and the sentence each protocol sends before closing.

use std::fmt;
use std::net::IpAddr;

/// Why the registry ended a session. Every connection of the session hears the same reason,
/// so the user sees why in each client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KickReason {
    /// The same account signed in from another device (policy `replace`).
    AnotherDevice {
        /// The address the new device signed in from.
        ip: IpAddr,
    },
    /// An administrator ended the session (`certmail session kick`).
    AdminKick,
    /// The account's password was changed.
    PasswordChanged,
    /// The account was locked (too many failures, or by an administrator).
    AccountLocked,
    /// The account was disabled.
    AccountDisabled,
    /// The certificate the session signed in with was unbound from the account.
    CertificateUnbound,
    /// The certificate the session signed in with was revoked (found at CRL reload).
    CertificateRevoked,
    /// The server is shutting down.
    Shutdown,
}

impl KickReason {
    /// The sentence after `* BYE [UNAVAILABLE] ` on IMAP (RFC 9051 §7.1.5: BYE when the
    /// server closes the connection; §7.1 `UNAVAILABLE`).
    pub fn imap_bye(&self) -> String {
        self.sentence()
    }

    /// The sentence after `421 4.7.0 ` on SMTP (RFC 5321 §3.8: 421 when the server must
    /// close the channel; RFC 3463 X.7.0 "other security status").
    pub fn smtp_reply(&self) -> String {
        self.sentence()
    }

    /// A short stable name for audit records, logs and `--json` output, e.g.
    /// `another-device`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AnotherDevice { .. } => "another-device",
            Self::AdminKick => "admin-kick",
            Self::PasswordChanged => "password-changed",
            Self::AccountLocked => "account-locked",
            Self::AccountDisabled => "account-disabled",
            Self::CertificateUnbound => "certificate-unbound",
            Self::CertificateRevoked => "certificate-revoked",
            Self::Shutdown => "shutdown",
        }
    }

    /// The reason `code` names, as another node sent it (cluster kicks travel as the code
    /// and, for [`Self::AnotherDevice`], the newcomer's address). `None` for an unknown code
    /// or an `another-device` without an address.
    pub fn from_code(code: &str, ip: Option<IpAddr>) -> Option<KickReason> {
        Some(match code {
            "another-device" => Self::AnotherDevice { ip: ip? },
            "admin-kick" => Self::AdminKick,
            "password-changed" => Self::PasswordChanged,
            "account-locked" => Self::AccountLocked,
            "account-disabled" => Self::AccountDisabled,
            "certificate-unbound" => Self::CertificateUnbound,
            "certificate-revoked" => Self::CertificateRevoked,
            "shutdown" => Self::Shutdown,
            _ => return None,
        })
    }

    /// One sentence for both protocols: it names the cause and says the connection is closed.
    /// It never contains CR or LF, so it is safe on a single reply line.
    fn sentence(&self) -> String {
        match self {
            Self::AnotherDevice { ip } => {
                format!("Signed in from another device ({ip}); this connection is closed")
            }
            Self::AdminKick => "Session ended by an administrator".to_owned(),
            Self::PasswordChanged => {
                "Password changed; sign in again with the new password".to_owned()
            }
            Self::AccountLocked => "Account locked; ask your administrator to unlock it".to_owned(),
            Self::AccountDisabled => "Account disabled; this connection is closed".to_owned(),
            Self::CertificateUnbound => {
                "Certificate no longer bound to this account; this connection is closed".to_owned()
            }
            Self::CertificateRevoked => "Certificate revoked; this connection is closed".to_owned(),
            Self::Shutdown => "Server shutting down; try again shortly".to_owned(),
        }
    }
}

impl fmt::Display for KickReason {
    /// The same sentence the clients hear.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

/// Every reason but [`KickReason::AnotherDevice`] (which carries an address), for tests.
#[cfg(test)]
pub(crate) const ALL_WITHOUT_ADDRESS: [KickReason; 7] = [
    KickReason::AdminKick,
    KickReason::PasswordChanged,
    KickReason::AccountLocked,
    KickReason::AccountDisabled,
    KickReason::CertificateUnbound,
    KickReason::CertificateRevoked,
    KickReason::Shutdown,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_device_names_the_new_address() {
        let reason = KickReason::AnotherDevice {
            ip: "203.0.113.5".parse().expect("test address"),
        };
        assert_eq!(
            reason.imap_bye(),
            "Signed in from another device (203.0.113.5); this connection is closed"
        );
        assert_eq!(reason.smtp_reply(), reason.imap_bye());
    }

    #[test]
    fn every_reason_has_its_own_single_line_text_and_code() {
        let mut texts = std::collections::HashSet::new();
        let mut codes = std::collections::HashSet::new();
        for reason in ALL_WITHOUT_ADDRESS {
            let text = reason.imap_bye();
            assert!(!text.contains(['\r', '\n']), "{text:?}");
            assert!(!reason.smtp_reply().contains(['\r', '\n']));
            assert!(texts.insert(text));
            assert!(codes.insert(reason.code()));
            assert_eq!(KickReason::from_code(reason.code(), None), Some(reason));
        }
        let ip = "203.0.113.5".parse().ok();
        let another = KickReason::from_code("another-device", ip);
        assert_eq!(another.map(|r| r.code()), Some("another-device"));
        assert_eq!(KickReason::from_code("another-device", None), None);
        assert_eq!(KickReason::from_code("no-such-reason", ip), None);
    }
}
