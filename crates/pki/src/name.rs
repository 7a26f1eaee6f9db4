//! The person's name in a GPKI/EPKI certificate, and how it is compared (PKI.md, "Subject
//! names and the account's name").
//!
//! Rule: use the KISA identifyData `realName` (SAN otherName 1.2.410.200004.10.1.1) when it
//! has no ASCII digit; otherwise take the CN and strip a leading `[0-9A-Za-z]{3}` agency code
//! and a trailing `[0-9]{2,3}` sequence. Trim spaces at both ends only (inner spaces stay),
//! normalise to Unicode NFC, and compare exactly.

use der::asn1::{Any, Utf8StringRef};
use unicode_normalization::UnicodeNormalization;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// KISA identifyData otherName type (SAN): `SEQUENCE { realName UTF8String, .. }`.
pub const OID_KISA_IDENTIFY_DATA: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.2.410.200004.10.1.1");

/// The certificate holder's name per PKI.md, NFC-normalised; `None` when the certificate
/// has neither a usable realName nor a CN that leaves a name after stripping.
pub fn extract_name(cert: &Certificate) -> Option<String> {
    let from_real_name = real_name(cert)
        .filter(|n| !n.bytes().any(|b| b.is_ascii_digit()))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let name = match from_real_name {
        Some(n) => n,
        None => {
            let cn = cert.tbs_certificate().subject().common_name().ok()??;
            name_from_cn(&cn.value())?
        }
    };
    Some(name.nfc().collect())
}

/// The realName of the KISA identifyData SAN otherName, if present and well formed.
pub fn real_name(cert: &Certificate) -> Option<String> {
    let (_, san) = cert
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .ok()??;
    san.0.iter().find_map(|gn| match gn {
        GeneralName::OtherName(on) if on.type_id == OID_KISA_IDENTIFY_DATA => {
            let seq: Vec<Any> = on.value.decode_as().ok()?;
            let first = seq.first()?;
            Utf8StringRef::try_from(first)
                .ok()
                .map(|s| s.as_str().to_owned())
        }
        _ => None,
    })
}

/// A name from a GPKI/EPKI CN: strip a leading three-character ASCII alphanumeric agency
/// code and a trailing sequence of two or three ASCII digits, then trim the ends.
/// `043김철수001` → `김철수`, `D57이영희01` → `이영희`.
pub fn name_from_cn(cn: &str) -> Option<String> {
    let mut rest = cn.trim();
    let prefix: Vec<char> = rest.chars().take(3).collect();
    if prefix.len() == 3 && prefix.iter().all(char::is_ascii_alphanumeric) {
        rest = &rest[3..]; // three ASCII chars are three bytes
    }
    let trailing_digits = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
    if trailing_digits >= 2 {
        rest = &rest[..rest.len() - trailing_digits.min(3)];
    }
    let name = rest.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Whether the certificate's name equals the account's registered name after Unicode NFC
/// only: spacing and spelling differences are refusals (PKI.md).
pub fn names_match(cert_name: &str, account_name: &str) -> bool {
    cert_name.nfc().eq(account_name.nfc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_with_numeric_code_and_sequence() {
        assert_eq!(name_from_cn("043김철수001").as_deref(), Some("김철수"));
        assert_eq!(name_from_cn("043김철수01").as_deref(), Some("김철수"));
        assert_eq!(name_from_cn("850홍길동001").as_deref(), Some("홍길동"));
    }

    #[test]
    fn cn_with_alphanumeric_code() {
        assert_eq!(name_from_cn("D57이영희001").as_deref(), Some("이영희"));
        assert_eq!(name_from_cn("A1B박민수02").as_deref(), Some("박민수"));
    }

    #[test]
    fn inner_spaces_stay_outer_spaces_go() {
        assert_eq!(
            name_from_cn("043남궁 민수001").as_deref(),
            Some("남궁 민수")
        );
        assert_eq!(name_from_cn(" 043 김철수 001 ").as_deref(), Some("김철수"));
    }

    #[test]
    fn cn_without_code_or_sequence_is_kept() {
        assert_eq!(name_from_cn("홍길동").as_deref(), Some("홍길동"));
        // A single trailing digit is not a sequence number.
        assert_eq!(name_from_cn("043김철수1").as_deref(), Some("김철수1"));
        // Four trailing digits: only the last three are the sequence.
        assert_eq!(name_from_cn("043김철수1001").as_deref(), Some("김철수1"));
        assert_eq!(name_from_cn("043001"), None);
    }

    #[test]
    fn names_match_is_nfc_exact() {
        let composed = "한";
        let decomposed: String = "한".nfd().collect();
        assert_ne!(composed, decomposed);
        assert!(names_match(composed, &decomposed));
        assert!(!names_match("홍길동", "홍 길동"));
        assert!(!names_match("홍길동", "홍길동 "));
        assert!(!names_match("김철수", "김철호"));
    }
}
