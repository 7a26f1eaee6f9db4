//! Where a CRL comes from: distribution-point URIs (RFC 4516 LDAP URLs, and plain HTTP),
//! and fetching the CRL's bytes from them.
//!
//! GPKI/EPKI certificates name LDAP URLs such as
//! `ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary`.
//! Real ones carry unescaped spaces in the DN, so the URL is split by hand rather than by a
//! strict URL parser. Plain LDAP and HTTP are enough: a CRL is signed by its CA and
//! verified before use, so the transport needs no TLS.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The attribute GPKI/EPKI directories hold CRLs in (RFC 4523 §2.2: transferred with the
/// `;binary` option).
pub const CRL_ATTRIBUTE: &str = "certificateRevocationList;binary";

/// The largest CRL accepted (a partitioned GPKI CRL is a few kilobytes to a few megabytes).
pub const MAX_CRL_BYTES: usize = 32 * 1024 * 1024;

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

    /// Fetches the CRL's bytes (DER, or PEM from some HTTP servers) within `timeout`.
    pub async fn fetch(&self, timeout: Duration) -> Result<Vec<u8>, String> {
        let work = async {
            match self {
                Source::Ldap {
                    host_port,
                    dn,
                    attribute,
                } => fetch_ldap(host_port, dn, attribute, timeout).await,
                Source::Http {
                    host_port,
                    host,
                    target,
                } => fetch_http(host_port, host, target).await,
            }
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
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

/// A base-object search (RFC 4511 §4.5.1) for `attribute` of `dn`, anonymously.
async fn fetch_ldap(
    host_port: &str,
    dn: &str,
    attribute: &str,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let settings = ldap3::LdapConnSettings::new().set_conn_timeout(timeout);
    let url = format!("ldap://{host_port}");
    let (conn, mut ldap) = ldap3::LdapConnAsync::with_settings(settings, &url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    ldap3::drive!(conn);
    let result = ldap
        .with_timeout(timeout)
        .search(dn, ldap3::Scope::Base, "(objectClass=*)", vec![attribute])
        .await
        .and_then(|r| r.success());
    let _ = ldap.unbind().await;
    let (entries, _) = result.map_err(|e| format!("LDAP search of {dn:?} failed: {e}"))?;
    let entry = entries
        .into_iter()
        .next()
        .ok_or_else(|| format!("no entry {dn:?}"))?;
    let entry = ldap3::SearchEntry::construct(entry);
    // The server may answer with another case of the name, or without `;binary`.
    let wanted = attribute.to_ascii_lowercase();
    let base = wanted.split(';').next().unwrap_or_default().to_owned();
    let matches = |name: &String| {
        let n = name.to_ascii_lowercase();
        n == wanted || n.split(';').next() == Some(base.as_str())
    };
    let value = entry
        .bin_attrs
        .iter()
        .find(|(name, _)| matches(name))
        .and_then(|(_, values)| values.first().cloned())
        .or_else(|| {
            entry
                .attrs
                .iter()
                .find(|(name, _)| matches(name))
                .and_then(|(_, values)| values.first().map(|v| v.as_bytes().to_vec()))
        })
        .ok_or_else(|| format!("entry {dn:?} has no {attribute} value"))?;
    if value.len() > MAX_CRL_BYTES {
        return Err(format!("the CRL is larger than {MAX_CRL_BYTES} bytes"));
    }
    Ok(value)
}

/// An HTTP/1.0 GET (RFC 1945; no chunked encoding, the body ends when the server closes).
async fn fetch_http(host_port: &str, host: &str, target: &str) -> Result<Vec<u8>, String> {
    let mut stream = tokio::net::TcpStream::connect(host_port)
        .await
        .map_err(|e| format!("cannot connect to {host_port}: {e}"))?;
    let request = format!(
        "GET {target} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: certmail-crl-fetch\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_CRL_BYTES as u64 + 64 * 1024)
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the HTTP answer has no header end")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head.lines().next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!("HTTP answer {status:?}"));
    }
    let body = response[split + 4..].to_vec();
    if body.len() > MAX_CRL_BYTES {
        return Err(format!("the CRL is larger than {MAX_CRL_BYTES} bytes"));
    }
    Ok(body)
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

    #[tokio::test]
    async fn an_http_crl_is_read_and_a_404_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            for answer in [&b"HTTP/1.0 200 OK\r\nContent-Type: application/pkix-crl\r\n\r\n\x30\x03\x02\x01\x00"[..], b"HTTP/1.0 404 Not Found\r\n\r\n"] {
                let (mut s, _) = listener.accept().await.expect("accept");
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.expect("read");
                    assert!(n > 0, "the client closed before the request ended");
                    request.extend_from_slice(&buf[..n]);
                }
                assert!(request.starts_with(b"GET /dp1.crl HTTP/1.0\r\nHost: 127.0.0.1:"));
                s.write_all(answer).await.expect("write");
            }
        });
        let src = Source::parse(&format!("http://{addr}/dp1.crl")).expect("parses");
        let body = src.fetch(Duration::from_secs(5)).await.expect("fetched");
        assert_eq!(body, b"\x30\x03\x02\x01\x00");
        let err = src.fetch(Duration::from_secs(5)).await.expect_err("404");
        assert!(err.contains("404"), "{err}");
    }
}
