//! The same input split at every byte boundary (and fed one byte at a time) must give the
//! same replies, the same stored messages and the same decisions.

mod common;

use certmail_smtp::proto::{AuthRequest, SessionConfig};
use common::*;

/// Everything a driver can observe from one run.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    output: String,
    stored: Vec<Stored>,
    aborted: usize,
    closed: bool,
    auth_requests: Vec<AuthRequest>,
}

fn run(config: &SessionConfig, pieces: &[&[u8]]) -> Observed {
    let mut harness = Harness::new(config.clone());
    for piece in pieces {
        harness.feed(piece);
    }
    Observed {
        output: harness.take_output(),
        stored: harness.stored,
        aborted: harness.aborted,
        closed: harness.closed,
        auth_requests: harness.auth_requests,
    }
}

/// Checks every two-piece split and the byte-at-a-time feed against the whole input.
fn assert_split_invariant(config: &SessionConfig, input: &[u8]) -> Observed {
    let whole = run(config, &[input]);
    for split in 0..=input.len() {
        let (head, tail) = input.split_at(split);
        let observed = run(config, &[head, tail]);
        assert_eq!(observed, whole, "split at byte {split}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(config, &bytes), whole, "one byte at a time");
    whole
}

#[test]
fn submission_session_split_everywhere() {
    let mut config = submission_465();
    config.max_line_length = 512;
    let input = format!(
        "EHLO client.example.kr\r\n\
         AUTH PLAIN {plain}\r\n\
         MAIL FROM:<hong@example.kr> SIZE=200 BODY=8BITMIME\r\n\
         RCPT TO:<kim@example.kr> NOTIFY=FAILURE\r\n\
         RCPT TO:<nobody@example.kr>\r\n\
         RCPT TO:<friend@other.kr>\r\n\
         DATA\r\n\
         ..first line stuffed\r\n\
         From: 홍길동 <hong@example.kr>\r\n\
         \r\n\
         bare\nlf\r\n\
         ..\r\n\
         .\r\n\
         NOOP {long}\r\n\
         FOO bar\r\n\
         MAIL FROM:<hong@example.kr>\r\n\
         RCPT TO:<hong@example.kr>\r\n\
         BDAT 5\r\n\r\n.\r\nBDAT 0 LAST\r\n\
         RSET\r\n\
         QUIT\r\n",
        plain = plain_response(),
        long = "x".repeat(600)
    );
    let observed = assert_split_invariant(&config, input.as_bytes());
    assert_eq!(observed.stored.len(), 2);
    assert_eq!(
        observed.stored[0].body,
        ".first line stuffed\r\nFrom: 홍길동 <hong@example.kr>\r\n\r\nbare\nlf\r\n.\r\n".as_bytes()
    );
    assert_eq!(observed.stored[1].body, b"\r\n.\r\n");
    assert!(observed.output.contains("500 5.5.2 Line too long\r\n"));
    assert!(
        observed
            .output
            .contains("500 5.5.1 Command unrecognized\r\n")
    );
    assert!(observed.output.ends_with("221 2.0.0 Bye\r\n"));
    assert!(observed.closed);
}

#[test]
fn size_limits_split_everywhere() {
    let mut config = mx();
    config.max_message_size = 40;
    let input = "EHLO a\r\n\
         MAIL FROM:<x@y.kr>\r\nRCPT TO:<kim@example.kr>\r\nDATA\r\n\
         0123456789012345678901234567890123456789\r\nQUIT\r\n.\r\n\
         MAIL FROM:<x@y.kr>\r\nRCPT TO:<kim@example.kr>\r\n\
         BDAT 30\r\n012345678901234567890123456789BDAT 30 LAST\r\n012345678901234567890123456789\
         MAIL FROM:<x@y.kr>\r\nRCPT TO:<kim@example.kr>\r\nDATA\r\nfits\r\n.\r\n\
         QUIT\r\n";
    let observed = assert_split_invariant(&config, input.as_bytes());
    assert_eq!(observed.aborted, 2);
    assert_eq!(observed.stored.len(), 1);
    assert_eq!(observed.stored[0].body, b"fits\r\n");
    assert_eq!(
        observed
            .output
            .matches("552 5.3.4 Message size exceeds the fixed maximum message size")
            .count(),
        2
    );
}

#[test]
fn sasl_exchanges_split_everywhere() {
    let input = format!(
        "EHLO a\r\nAUTH LOGIN\r\n{user}\r\n{wrong}\r\nAUTH PLAIN\r\n*\r\nAUTH EXTERNAL\r\n=\r\nQUIT\r\n",
        user = b64(ACCOUNT),
        wrong = b64("틀린암호")
    );
    let observed = assert_split_invariant(&submission_465(), input.as_bytes());
    assert_eq!(observed.auth_requests.len(), 2);
    assert!(observed.output.contains("535 5.7.8"));
    assert!(
        observed
            .output
            .contains("501 5.7.0 Authentication cancelled")
    );
    assert!(observed.output.contains("235 2.7.0"));
}
