//! `[crl_fetch]`: the settings of the `certmail crl fetch` job, and the distribution-point
//! URIs it accepts (RFC 4516 LDAP URLs, and plain HTTP).
//!
//! GPKI/EPKI certificates name LDAP URLs such as
//! `ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary`.
//! Real ones carry unescaped spaces in the DN, so the URL is split by hand rather than by a
//! strict URL parser. Fetching lives in the daemon; parsing is here so the configuration
//! checker can refuse a URI the job could not fetch.

use serde::{Deserialize, Serialize};

/// The attribute GPKI/EPKI directories hold CRLs in (RFC 4523 §2.2: transferred with the
/// `;binary` option).
pub const CRL_ATTRIBUTE: &str = "certificateRevocationList;binary";

/// `[crl_fetch]`: the job that keeps `[pki] crl_dir` current.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrlFetchSection {
    /// Distribution-point URIs to fetch besides those the CRL directory already serves
    /// (`ldap://host:389/dn?certificateRevocationList;binary` or `http://…`).
    pub distribution_points: Vec<String>,
    /// Seconds allowed for one distribution point (connect, search, transfer).
    pub timeout_secs: u64,
    /// Hours before a CRL's nextUpdate from which `crl fetch` warns and exits 2.
    pub warn_before_hours: u64,
}

impl Default for CrlFetchSection {
    fn default() -> Self {
        Self {
            distribution_points: Vec::new(),
            // A directory on the government network answers in well under a second; 30 s
            // rides out a slow link without stalling the timer for long.
            timeout_secs: 30,
            // The timer runs hourly, so a CRL with under 12 h left means the directory has
            // not published a new one for a while: time to look, before sign-ins fail.
            warn_before_hours: 12,
        }
    }
}

impl CrlFetchSection {
    /// Reports distribution points that cannot be fetched, and a zero timeout, by key.
    pub fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        for uri in &self.distribution_points {
            if let Err(e) = Source::parse(uri) {
                bad("[crl_fetch] distribution_points", format!("`{uri}`: {e}"));
            }
        }
        if self.timeout_secs == 0 {
            bad(
                "[crl_fetch] timeout_secs",
                "must be at least 1 (seconds for one distribution point)".into(),
            );
        }
    }
}

/// A distribution point we know how to fetch from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `ldap://host[:port]/dn[?attribute]`: a base-object search for one attribute.
    Ldap {
        /// `host:port` (port 389 unless given).
        host_port: String,
        /// The entry's DN, percent-decoded.
        dn: String,
        /// The attribute holding the CRL, percent-decoded.
        attribute: String,
    },
    /// `http://host[:port]/path`: a GET.
    Http {
        /// `host:port` (port 80 unless given).
        host_port: String,
        /// The host as sent in the Host header.
        host: String,
        /// The request target (path and query), as written.
        target: String,
    },
}

impl Source {
    /// Parses a distribution-point URI; the error says why it cannot be fetched.
    pub fn parse(uri: &str) -> Result<Source, String> {
        let uri = uri.trim();
        let lower = uri.to_ascii_lowercase();
        // The scheme is ASCII, so byte offsets in `lower` are offsets in `uri`.
        if lower.starts_with("ldap://") {
            let rest = &uri["ldap://".len()..];
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            // RFC 4516 §2: dn ["?" attributes ["?" scope ["?" filter ["?" extensions]]]].
            let mut parts = path.split('?');
            let dn = percent_decode(parts.next().unwrap_or(""))?;
            let attribute = match parts.next().map(percent_decode).transpose()? {
                Some(a) if !a.is_empty() => a.split(',').next().unwrap_or_default().to_owned(),
                _ => CRL_ATTRIBUTE.to_owned(),
            };
            if dn.is_empty() {
                return Err("the LDAP URL names no entry (DN)".into());
            }
            Ok(Source::Ldap {
                host_port: with_port(host, 389)?,
                dn,
                attribute,
            })
        } else if lower.starts_with("http://") {
            let rest = &uri["http://".len()..];
            let (host, path) = match rest.find(['/', '?']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let target = if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            };
            if target.bytes().any(|b| b.is_ascii_control() || b == b' ') {
                return Err("the HTTP URL has spaces or control characters".into());
            }
            Ok(Source::Http {
                host_port: with_port(host, 80)?,
                host: host.to_owned(),
                target,
            })
        } else {
            Err("only ldap:// and http:// distribution points can be fetched".into())
        }
    }
}

/// `host` with `default` appended when it names no port; refuses an empty host.
fn with_port(host: &str, default: u16) -> Result<String, String> {
    if host.is_empty() {
        return Err("the URL names no host".into());
    }
    let has_port = match host.rsplit_once(':') {
        Some((h, p)) => !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()),
        None => false,
    };
    let bracketed_v6 = host.starts_with('[') && host.ends_with(']');
    Ok(if has_port && !bracketed_v6 {
        host.to_owned()
    } else {
        format!("{host}:{default}")
    })
}

/// Decodes `%XX` escapes (RFC 3986 §2.1) into UTF-8.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_gpki_ldap_url_with_spaces_parses() {
        let s = Source::parse(
            "ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary",
        )
        .expect("parses");
        assert_eq!(
            s,
            Source::Ldap {
                host_port: "cen.dir.go.kr:389".into(),
                dn: "cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR".into(),
                attribute: CRL_ATTRIBUTE.into(),
            }
        );
    }

    #[test]
    fn an_ldap_url_without_port_or_attribute_gets_the_defaults() {
        let s = Source::parse(
            "LDAP://ldap.epki.go.kr/cn=crl1p1dp16306,ou=CRL,o=Government%20of%20Korea,c=kr",
        )
        .expect("parses");
        assert_eq!(
            s,
            Source::Ldap {
                host_port: "ldap.epki.go.kr:389".into(),
                dn: "cn=crl1p1dp16306,ou=CRL,o=Government of Korea,c=kr".into(),
                attribute: CRL_ATTRIBUTE.into(),
            }
        );
    }

    #[test]
    fn http_and_unsupported_schemes() {
        assert_eq!(
            Source::parse("http://crl.example.go.kr/ca1.crl").expect("parses"),
            Source::Http {
                host_port: "crl.example.go.kr:80".into(),
                host: "crl.example.go.kr".into(),
                target: "/ca1.crl".into(),
            }
        );
        assert!(Source::parse("ldaps://x/cn=a").is_err());
        assert!(Source::parse("ldap://x/").is_err());
        assert!(Source::parse("ldap://x/cn=%zz").is_err());
    }
}
