//! Why a sign-in is refused: one reason from DESIGN.md's table, with its machine code,
//! its IMAP response code and its SMTP reply, plus a sentence the user can act on.
//!
//! The reasons are checked in table order and the first that applies wins
//! ([`RefusalReason::rank`]). crates/pki decides rows 1–8 (the certificate itself);
//! crates/auth decides the rest (binding, name, account, password).

use std::fmt;

/// One row of DESIGN.md's refusal table ("Identity", step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalReason {
    /// The client presented no certificate.
    NoCertificate,
    /// Unknown critical extension, SHA-1 signature, RSA under 2048 bits, or a key TLS cannot use (KCDSA).
    UnsupportedCertificate,
    /// A bank / NPKI (공동인증서) certificate.
    NpkiCertificate,
    /// Not issued by a configured GPKI/EPKI issuing CA.
    UnknownIssuer,
    /// The issuing CA's signature on the certificate does not verify.
    BadSignature,
    /// The certificate's validity ended.
    CertificateExpired,
    /// The certificate's validity has not started.
    CertificateNotYetValid,
    /// The certificate policy is not a personal GPKI/EPKI policy (server, institution, NPKI).
    PolicyNotAllowed,
    /// The certificate is on its CRL.
    CertificateRevoked,
    /// No usable CRL for the certificate's distribution point (missing, or stale past the grace).
    RevocationUnknown,
    /// The certificate is not bound to any account.
    CertificateNotBound,
    /// The certificate is bound to another account than the one signing in.
    BoundToOtherAccount,
    /// The certificate's name differs from the account's registered name.
    NameMismatch,
    /// The account awaits an administrator's approval.
    AccountPending,
    /// The account is disabled.
    AccountDisabled,
    /// The account is locked (too many failed second factors).
    AccountLocked,
    /// The client's network is not allowed for this account.
    NetworkNotAllowed,
    /// The password is wrong.
    BadPassword,
    /// A TOTP code is required (new device) and was not given.
    TotpRequired,
    /// The TOTP code is wrong.
    TotpInvalid,
    /// The password has expired and must be changed.
    PasswordExpired,
    /// The temporary password set by an administrator has expired.
    TemporaryPasswordExpired,
    /// Too many failures from this address (per-IP throttle).
    TooManyFailures,
}

impl RefusalReason {
    /// Every reason, in table order.
    pub const ALL: [RefusalReason; 23] = [
        Self::NoCertificate,
        Self::UnsupportedCertificate,
        Self::NpkiCertificate,
        Self::UnknownIssuer,
        Self::BadSignature,
        Self::CertificateExpired,
        Self::CertificateNotYetValid,
        Self::PolicyNotAllowed,
        Self::CertificateRevoked,
        Self::RevocationUnknown,
        Self::CertificateNotBound,
        Self::BoundToOtherAccount,
        Self::NameMismatch,
        Self::AccountPending,
        Self::AccountDisabled,
        Self::AccountLocked,
        Self::NetworkNotAllowed,
        Self::BadPassword,
        Self::TotpRequired,
        Self::TotpInvalid,
        Self::PasswordExpired,
        Self::TemporaryPasswordExpired,
        Self::TooManyFailures,
    ];

    /// The stable machine code (audit log, `cert inspect`, tests).
    pub fn code(self) -> &'static str {
        match self {
            Self::NoCertificate => "no_certificate",
            Self::UnsupportedCertificate => "unsupported_certificate",
            Self::NpkiCertificate => "npki_certificate",
            Self::UnknownIssuer => "unknown_issuer",
            Self::BadSignature => "bad_signature",
            Self::CertificateExpired => "certificate_expired",
            Self::CertificateNotYetValid => "certificate_not_yet_valid",
            Self::PolicyNotAllowed => "policy_not_allowed",
            Self::CertificateRevoked => "certificate_revoked",
            Self::RevocationUnknown => "revocation_unknown",
            Self::CertificateNotBound => "certificate_not_bound",
            Self::BoundToOtherAccount => "bound_to_other_account",
            Self::NameMismatch => "name_mismatch",
            Self::AccountPending => "account_pending",
            Self::AccountDisabled => "account_disabled",
            Self::AccountLocked => "account_locked",
            Self::NetworkNotAllowed => "network_not_allowed",
            Self::BadPassword => "bad_password",
            Self::TotpRequired => "totp_required",
            Self::TotpInvalid => "totp_invalid",
            Self::PasswordExpired => "password_expired",
            Self::TemporaryPasswordExpired => "temporary_password_expired",
            Self::TooManyFailures => "too_many_failures",
        }
    }

    /// The reason with machine code `code`, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The row number in DESIGN.md's table (1 = checked first). Reasons sharing a row
    /// share a rank; a lower rank wins.
    pub fn rank(self) -> u8 {
        match self {
            Self::NoCertificate => 1,
            Self::UnsupportedCertificate => 2,
            Self::NpkiCertificate | Self::UnknownIssuer => 3,
            Self::BadSignature => 4,
            Self::CertificateExpired | Self::CertificateNotYetValid => 5,
            Self::PolicyNotAllowed => 6,
            Self::CertificateRevoked => 7,
            Self::RevocationUnknown => 8,
            Self::CertificateNotBound | Self::BoundToOtherAccount => 9,
            Self::NameMismatch => 10,
            Self::AccountPending | Self::AccountDisabled => 11,
            Self::AccountLocked => 12,
            Self::NetworkNotAllowed => 13,
            Self::BadPassword | Self::TotpRequired | Self::TotpInvalid => 14,
            Self::PasswordExpired | Self::TemporaryPasswordExpired => 15,
            Self::TooManyFailures => 16,
        }
    }

    /// The IMAP response code, without brackets: `NO [<code>] <sentence>`.
    // RFC 5530 §3 (AUTHENTICATIONFAILED, EXPIRED, UNAVAILABLE, CONTACTADMIN).
    pub fn imap_code(self) -> &'static str {
        match self.rank() {
            5 | 15 => "EXPIRED",
            8 | 16 => "UNAVAILABLE",
            11 | 12 => "CONTACTADMIN",
            _ => "AUTHENTICATIONFAILED",
        }
    }

    /// The SMTP reply code and enhanced status code.
    // RFC 4954 §6: 530 5.7.0 authentication required, 535 5.7.8 credentials invalid,
    // 454 4.7.0 temporary authentication failure.
    pub fn smtp_reply(self) -> (u16, &'static str) {
        match self.rank() {
            1 => (530, "5.7.0"),
            8 | 16 => (454, "4.7.0"),
            _ => (535, "5.7.8"),
        }
    }

    /// True when trying again later may succeed (IMAP UNAVAILABLE, SMTP 4xx).
    pub fn is_temporary(self) -> bool {
        self.smtp_reply().0 / 100 == 4
    }

    /// A generic sentence for this reason, for callers that have nothing more specific.
    pub fn generic_message(self) -> &'static str {
        match self {
            Self::NoCertificate => {
                "No certificate was presented; choose your GPKI or EPKI certificate in your mail program."
            }
            Self::UnsupportedCertificate => {
                "This certificate cannot be used for signing in; use a GPKI or EPKI certificate with an RSA or ECDSA key."
            }
            Self::NpkiCertificate => {
                "Bank/NPKI certificates are not accepted; use your GPKI or EPKI certificate."
            }
            Self::UnknownIssuer => {
                "This certificate was not issued by a GPKI or EPKI certificate authority this server trusts."
            }
            Self::BadSignature => {
                "This certificate's signature is not valid; it may have been altered. Use the certificate issued to you."
            }
            Self::CertificateExpired => "Your certificate has expired; renew it with GPKI or EPKI.",
            Self::CertificateNotYetValid => {
                "Your certificate is not valid yet; check your computer's clock or wait until it starts."
            }
            Self::PolicyNotAllowed => {
                "This is not a personal GPKI/EPKI certificate; use your personal certificate."
            }
            Self::CertificateRevoked => {
                "Your certificate has been revoked; get a new one from GPKI or EPKI."
            }
            Self::RevocationUnknown => {
                "The server cannot check your certificate's revocation status right now; try again later or tell the administrator."
            }
            Self::CertificateNotBound => {
                "This certificate is not registered to any account; ask the administrator to register it."
            }
            Self::BoundToOtherAccount => "This certificate is registered to another account.",
            Self::NameMismatch => {
                "The name in the certificate differs from the account's registered name."
            }
            Self::AccountPending => "Your account is waiting for an administrator's approval.",
            Self::AccountDisabled => "Your account is disabled; contact the administrator.",
            Self::AccountLocked => {
                "Your account is locked after too many failed sign-ins; contact the administrator."
            }
            Self::NetworkNotAllowed => {
                "Signing in to this account is not allowed from your network."
            }
            Self::BadPassword => "The password is wrong.",
            Self::TotpRequired => {
                "A one-time code is required for a new device; add it after your password."
            }
            Self::TotpInvalid => "The one-time code is wrong or expired.",
            Self::PasswordExpired => "Your password has expired; change it before signing in.",
            Self::TemporaryPasswordExpired => {
                "Your temporary password has expired; ask the administrator for a new one."
            }
            Self::TooManyFailures => {
                "Too many failed sign-ins from your address; wait a few minutes and try again."
            }
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused sign-in: exactly one reason and a sentence the user can act on, naming
/// specifics (the two names that differed, the policy OID, the issuer...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Which row of the table refused.
    pub reason: RefusalReason,
    /// The sentence for the user (no secrets, single line).
    pub message: String,
}

impl Refusal {
    /// The sentence for protocols whose reply text is 7-bit (IMAP4rev1 resp-text, RFC 3501
    /// §9 TEXT-CHAR): the specific sentence when it is printable ASCII, else the reason's
    /// generic sentence (a sentence naming Korean names or DNs cannot be sent as is).
    pub fn text_7bit(&self) -> &str {
        if self.message.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            &self.message
        } else {
            self.reason.generic_message()
        }
    }

    /// A refusal with a specific sentence. Line breaks are replaced by spaces so the
    /// sentence fits one IMAP or SMTP reply line.
    pub fn new(reason: RefusalReason, message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = message.replace(['\r', '\n'], " ");
        Refusal { reason, message }
    }

    /// A refusal with the reason's generic sentence.
    pub fn generic(reason: RefusalReason) -> Self {
        Refusal::new(reason, reason.generic_message())
    }
}

/// Shows the sentence only; the machine code is in [`Refusal::reason`].
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for r in RefusalReason::ALL {
            assert_eq!(RefusalReason::from_code(r.code()), Some(r));
        }
        let mut codes: Vec<_> = RefusalReason::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RefusalReason::ALL.len());
    }

    #[test]
    fn ranks_follow_table_order() {
        let ranks: Vec<u8> = RefusalReason::ALL.iter().map(|r| r.rank()).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(ranks.first(), Some(&1));
        assert_eq!(ranks.last(), Some(&16));
    }

    #[test]
    fn replies_match_design_table() {
        use RefusalReason::*;
        assert_eq!(NoCertificate.smtp_reply(), (530, "5.7.0"));
        assert_eq!(NoCertificate.imap_code(), "AUTHENTICATIONFAILED");
        assert_eq!(CertificateExpired.imap_code(), "EXPIRED");
        assert_eq!(RevocationUnknown.imap_code(), "UNAVAILABLE");
        assert_eq!(RevocationUnknown.smtp_reply(), (454, "4.7.0"));
        assert!(RevocationUnknown.is_temporary());
        assert_eq!(AccountLocked.imap_code(), "CONTACTADMIN");
        assert_eq!(AccountPending.imap_code(), "CONTACTADMIN");
        assert_eq!(NameMismatch.smtp_reply(), (535, "5.7.8"));
        assert_eq!(TemporaryPasswordExpired.imap_code(), "EXPIRED");
        assert_eq!(TooManyFailures.smtp_reply(), (454, "4.7.0"));
        assert!(!BadPassword.is_temporary());
    }

    #[test]
    fn message_is_one_line() {
        let r = Refusal::new(RefusalReason::NameMismatch, "a\r\nb");
        assert_eq!(r.to_string(), "a  b");
    }
}

#[cfg(test)]
mod text_7bit_tests {
    use super::{Refusal, RefusalReason};

    #[test]
    fn ascii_sentences_stay_and_others_fall_back_to_the_reason() {
        let r = Refusal::new(
            RefusalReason::CertificateExpired,
            "Your certificate expired on 2026-01-01.",
        );
        assert_eq!(r.text_7bit(), "Your certificate expired on 2026-01-01.");
        let r = Refusal::new(
            RefusalReason::NameMismatch,
            "The name on your certificate (김철수) differs.",
        );
        assert_eq!(r.text_7bit(), RefusalReason::NameMismatch.generic_message());
        assert!(r.text_7bit().is_ascii());
    }
}
