//! RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps, ±1 step), with replays refused
//! by remembering the last step used; and the `otpauth://` URI authenticator apps scan.

use ring::hmac;
use ring::rand::{SecureRandom as _, SystemRandom};

/// Seconds per step (RFC 6238 §4.1, the default X).
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// The account setting holding the last step a code was accepted for.
pub const LAST_STEP_SETTING: &str = "totp_last_step";

/// A new 160-bit secret (RFC 4226 §4 R6 recommends 160 bits).
pub fn generate_secret() -> Option<Vec<u8>> {
    let mut s = vec![0u8; 20];
    SystemRandom::new().fill(&mut s).ok()?;
    Some(s)
}

/// The step (T) of `unix` seconds (RFC 6238 §4.2, T0 = 0).
pub fn step_of(unix: i64) -> i64 {
    unix.div_euclid(STEP_SECS)
}

/// The `digits`-digit HOTP value of `secret` at counter `step` (RFC 4226 §5.3).
pub fn code_at(secret: &[u8], step: i64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let h = tag.as_ref();
    // RFC 4226 §5.4 dynamic truncation.
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The step `code` is valid for at `now` (±1 step for clock drift), if any and if later
/// than `last_step` (RFC 6238 §5.2: a code is accepted once).
pub fn verify(secret: &[u8], code: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let current = step_of(now);
    [current - 1, current, current + 1]
        .into_iter()
        .filter(|&s| last_step.is_none_or(|last| s > last))
        .find(|&s| {
            let got = code_at(secret, s, DIGITS);
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &got.to_be_bytes()[..],
                &wanted.to_be_bytes()[..],
            ))
        })
}

/// Splits a password with a 6-digit code appended into (password, code).
pub fn split_code(with_code: &str) -> Option<(&str, &str)> {
    let cut = with_code.len().checked_sub(DIGITS as usize)?;
    let (pw, code) = (with_code.get(..cut)?, with_code.get(cut..)?);
    code.bytes()
        .all(|b| b.is_ascii_digit())
        .then_some((pw, code))
}

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The secret of an `otpauth://` URI (the inverse of [`otpauth_uri`]: what an
/// authenticator app reads from the QR code), or `None` without a valid base32 `secret`.
pub fn secret_of_uri(uri: &str) -> Option<Vec<u8>> {
    let query = uri.split_once('?')?.1;
    let encoded = query.split('&').find_map(|kv| kv.strip_prefix("secret="))?;
    let (mut out, mut buf, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in encoded.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The `otpauth://totp/…` URI for `account` on `issuer` (Google Authenticator's key URI
/// format; every app reads it).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{}:{}", percent(issuer), percent(account));
    format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        base32(secret),
        percent(issuer)
    )
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows (8 digits, the 20-byte ASCII seed).
    #[test]
    fn rfc6238_sha1_test_vectors() {
        let seed = b"12345678901234567890";
        for (time, want) in [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(code_at(seed, step_of(time), 8), want, "T = {time}");
        }
        assert_eq!(
            code_at(seed, step_of(59), 6),
            287082,
            "6 digits: the last six"
        );
    }

    #[test]
    fn the_uri_gives_back_its_secret() {
        for secret in [&b"12345678901234567890"[..], b"\x00\xff\x10", b"a"] {
            let uri = otpauth_uri("mail.example.go.kr", "kim@example.go.kr", secret);
            assert_eq!(secret_of_uri(&uri).as_deref(), Some(secret), "{uri}");
        }
        assert_eq!(secret_of_uri("otpauth://totp/x?issuer=y"), None);
        assert_eq!(secret_of_uri("otpauth://totp/x?secret=ab1"), None);
    }

    #[test]
    fn verify_allows_one_step_of_drift_and_refuses_replays() {
        let seed = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = |s: i64| format!("{:06}", code_at(seed, s, 6));
        let here = step_of(now);
        assert_eq!(verify(seed, &code(here), now, None), Some(here));
        assert_eq!(verify(seed, &code(here - 1), now, None), Some(here - 1));
        assert_eq!(verify(seed, &code(here + 1), now, None), Some(here + 1));
        assert_eq!(verify(seed, &code(here - 2), now, None), None, "too old");
        assert_eq!(verify(seed, &code(here), now, Some(here)), None, "replay");
        assert_eq!(
            verify(seed, &code(here - 1), now, Some(here - 1)),
            None,
            "replay"
        );
        assert_eq!(
            verify(seed, &code(here + 1), now, Some(here)),
            Some(here + 1)
        );
        assert_eq!(verify(seed, "12345", now, None), None);
        assert_eq!(verify(seed, "abcdef", now, None), None);
    }

    #[test]
    fn split_code_takes_six_trailing_digits() {
        assert_eq!(
            split_code("Gpki-Pass-2026!123456"),
            Some(("Gpki-Pass-2026!", "123456"))
        );
        assert_eq!(split_code("비밀번호123456"), Some(("비밀번호", "123456")));
        assert_eq!(split_code("Gpki-Pass-2026!"), None);
        assert_eq!(split_code("12345"), None);
    }

    #[test]
    fn base32_and_uri() {
        // RFC 4648 §10 vectors (unpadded).
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let uri = otpauth_uri("mail.test.go.kr", "hong", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/mail.test.go.kr:hong?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=mail.test.go.kr&algorithm=SHA1&digits=6&period=30"
        );
    }
}
