//! Fetching a CRL's bytes from its distribution point (the URI is parsed by
//! [`certmail_config::crl_fetch::Source`]).
//!
//! GPKI/EPKI certificates name LDAP URLs such as
//! `ldap://cen.dir.go.kr:389/cn=crl1p1dp146,cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary`.
//! Real ones carry unescaped spaces in the DN, so the URL is split by hand rather than by a
//! strict URL parser. Plain LDAP and HTTP are enough: a CRL is signed by its CA and
//! verified before use, so the transport needs no TLS.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub use certmail_config::crl_fetch::Source;

/// The largest CRL accepted (a partitioned GPKI CRL is a few kilobytes to a few megabytes).
pub const MAX_CRL_BYTES: usize = 32 * 1024 * 1024;

/// Fetches the CRL's bytes (DER, or PEM from some HTTP servers) within `timeout`.
pub async fn fetch(source: &Source, timeout: Duration) -> Result<Vec<u8>, String> {
    let work = async {
        match source {
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
        let body = fetch(&src, Duration::from_secs(5)).await.expect("fetched");
        assert_eq!(body, b"\x30\x03\x02\x01\x00");
        let err = fetch(&src, Duration::from_secs(5)).await.expect_err("404");
        assert!(err.contains("404"), "{err}");
    }
}
