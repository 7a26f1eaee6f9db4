//! The smallest HTTP/1.1 client rspamd needs: one POST per connection (rspamd's workers
//! answer one request and the next scan may go to another worker), a deadline over the
//! whole exchange, and a bound on the answer's size.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Uri};
use tokio::net::TcpStream;

use crate::Error;

/// The largest answer read from rspamd, octets. A `/checkv2` answer with every symbol's
/// description is a few kilobytes; anything near this is not rspamd.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// An answer: the status code and the body.
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body (at most [`MAX_ANSWER`] octets).
    pub body: Bytes,
}

/// Checks that `url` is a plain `http://host:port[/path]` URL this client can reach; the
/// error says what is wrong in words for the configuration's reader.
pub fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(format!(
                "`{url}`: only http:// is supported, not {other}:// (run rspamd on this machine or its private network)"
            ));
        }
        None => return Err(format!("`{url}` needs http:// in front")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` names no host"));
    }
    Ok(())
}

/// POSTs `body` to `base` joined with `path`, with `headers`, and reads the answer, all
/// within `timeout`.
pub async fn post(
    base: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Bytes,
    timeout: Duration,
) -> Result<Answer, Error> {
    match tokio::time::timeout(timeout, exchange(base, path, headers, body)).await {
        Ok(answer) => answer,
        Err(_) => Err(Error::SpamFilter(format!(
            "{base} did not answer within {} seconds",
            timeout.as_secs()
        ))),
    }
}

async fn exchange(
    base: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<Answer, Error> {
    let failed =
        |what: &str, e: &dyn std::fmt::Display| Error::SpamFilter(format!("{base}: {what}: {e}"));
    let uri: Uri = base.parse().map_err(|e| failed("not a URL", &e))?;
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let port = uri.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| failed("cannot connect", &e))?;
    let full_path = format!("{}{path}", uri.path().trim_end_matches('/'));
    let mut request = Request::post(full_path)
        .header(
            hyper::header::HOST,
            uri.authority().map_or("", |a| a.as_str()),
        )
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in headers {
        request = request.header(*name, value.as_bytes());
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| failed("bad request header", &e))?;
    let (status, body) = crate::http_client::exchange(tcp, request, MAX_ANSWER)
        .await
        .map_err(|e| Error::SpamFilter(format!("{base}: {e}")))?;
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_plain_http_urls_with_a_host_pass() {
        assert!(check_url("http://127.0.0.1:11333").is_ok());
        assert!(check_url("http://[::1]:11334/rspamd").is_ok());
        let https = check_url("https://rspamd.example.kr").expect_err("https");
        assert!(https.contains("only http://"), "{https}");
        assert!(check_url("127.0.0.1:11333").is_err());
        assert!(check_url("not a url").is_err());
    }
}
