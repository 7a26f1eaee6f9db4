//! DATA and BDAT: bodies, dot-stuffing, size limits and framing.

mod common;

use common::*;

/// A greeted MX session with one open transaction for kim@example.kr.
fn ready(max_message_size: usize) -> Harness {
    let mut config = mx();
    config.max_message_size = max_message_size;
    let mut harness = Harness::greeted(config);
    let out = harness.exchange("EHLO a\r\nMAIL FROM:<x@y.kr>\r\nRCPT TO:<kim@example.kr>\r\n");
    assert!(out.ends_with("250 2.1.5 Recipient OK\r\n"), "{out}");
    harness
}

/// Sends DATA plus `content` (which must hold the terminator) and returns the stored body.
fn data_body(content: &[u8]) -> Vec<u8> {
    let mut harness = ready(1000);
    assert_eq!(
        harness.exchange("DATA\r\n"),
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
    );
    harness.feed(content);
    assert_eq!(harness.take_output(), "250 2.0.0 Message accepted\r\n");
    assert_eq!(harness.stored.len(), 1);
    harness.stored[0].body.clone()
}

#[test]
fn empty_body_dot_as_first_line() {
    // smtp-proto's first-line bug: without priming, ".\r\n" here would not end the data.
    assert_eq!(data_body(b".\r\n"), b"");
}

#[test]
fn dot_stuffing_on_the_first_line() {
    assert_eq!(data_body(b"..hidden\r\n.\r\n"), b".hidden\r\n");
}

#[test]
fn dot_stuffing_later_and_a_stuffed_lone_dot() {
    assert_eq!(
        data_body(b"Subject: x\r\n\r\n..leading dot\r\n..\r\nend\r\n.\r\n"),
        b"Subject: x\r\n\r\n.leading dot\r\n.\r\nend\r\n"
    );
}

#[test]
fn bare_lf_dot_does_not_end_the_message() {
    // SMTP smuggling: only CRLF.CRLF ends DATA.
    assert_eq!(
        data_body(b"a\n.\nMAIL FROM:<evil@x>\r\n\r.\r\nb\r\n.\r\n"),
        b"a\n.\nMAIL FROM:<evil@x>\r\n\r.\r\nb\r\n"
    );
}

#[test]
fn bare_lf_lines_are_kept_as_sent() {
    assert_eq!(
        data_body(b"line one\nline two\n\r\n.\r\n"),
        b"line one\nline two\n\r\n"
    );
}

#[test]
fn chunk_boundary_between_dot_cr_and_lf_leaves_no_stray_cr() {
    let mut harness = ready(1000);
    harness.exchange("DATA\r\n");
    harness.feed(b"abc\r\n.\r");
    assert_eq!(harness.take_output(), "");
    harness.feed(b"\n");
    assert_eq!(harness.take_output(), "250 2.0.0 Message accepted\r\n");
    assert_eq!(harness.stored[0].body, b"abc\r\n");
}

#[test]
fn commands_pipelined_after_the_terminator_are_answered() {
    let mut harness = ready(1000);
    harness.exchange("DATA\r\n");
    let out = harness.exchange("body\r\n.\r\nNOOP\r\nQUIT\r\n");
    assert_eq!(
        out,
        "250 2.0.0 Message accepted\r\n250 2.0.0 OK\r\n221 2.0.0 Bye\r\n"
    );
}

#[test]
fn size_limit_mid_data_keeps_framing_then_552() {
    let mut harness = ready(100);
    harness.exchange("DATA\r\n");
    let line = "0123456789012345678901234567890123456789\r\n";
    harness.send(&line.repeat(2));
    assert_eq!(harness.aborted, 0, "still under the limit");
    // Over the limit: the body is dropped at once, the rest is read up to the terminator
    // and nothing in it is taken for a command.
    harness.send(&line.repeat(2));
    assert_eq!(harness.aborted, 1);
    let out = harness.exchange("QUIT\r\nmore\r\n.\r\nNOOP\r\n");
    assert_eq!(
        out,
        "552 5.3.4 Message size exceeds the fixed maximum message size\r\n250 2.0.0 OK\r\n"
    );
    assert!(harness.stored.is_empty());
    assert!(!harness.closed);
    // The transaction is over; a new one works.
    let out = harness
        .exchange("MAIL FROM:<x@y.kr>\r\nRCPT TO:<kim@example.kr>\r\nDATA\r\nsmall\r\n.\r\n");
    assert!(out.ends_with("250 2.0.0 Message accepted\r\n"), "{out}");
    assert_eq!(harness.stored[0].body, b"small\r\n");
}

#[test]
fn message_of_exactly_the_limit_is_accepted() {
    let mut harness = ready(10);
    harness.exchange("DATA\r\n");
    assert_eq!(
        harness.exchange("12345678\r\n.\r\n"),
        "250 2.0.0 Message accepted\r\n"
    );
    assert_eq!(harness.stored[0].body.len(), 10);
}

#[test]
fn bdat_chunks_are_taken_verbatim() {
    let mut harness = ready(1000);
    let out = harness.exchange("BDAT 7\r\nhello\r\nBDAT 12 LAST\r\n\r\n.\r\nQUIT\r\nx");
    assert_eq!(
        out,
        "250 2.0.0 7 octets received\r\n250 2.0.0 Message accepted\r\n"
    );
    assert_eq!(harness.stored[0].body, b"hello\r\n\r\n.\r\nQUIT\r\nx");
    assert!(!harness.closed, "QUIT inside a chunk is data");
}

#[test]
fn bdat_zero_length_last_chunk() {
    let mut harness = ready(1000);
    let out = harness.exchange("BDAT 3\r\nabcBDAT 0 LAST\r\n");
    assert_eq!(
        out,
        "250 2.0.0 3 octets received\r\n250 2.0.0 Message accepted\r\n"
    );
    assert_eq!(harness.stored[0].body, b"abc");
}

#[test]
fn bdat_chunk_split_across_reads() {
    let mut harness = ready(1000);
    assert_eq!(harness.exchange("BDAT 10 LAST\r\n01234"), "");
    assert_eq!(
        harness.exchange("56789NOOP\r\n"),
        "250 2.0.0 Message accepted\r\n250 2.0.0 OK\r\n"
    );
    assert_eq!(harness.stored[0].body, b"0123456789");
}

#[test]
fn bdat_over_the_limit_is_read_and_refused_and_later_chunks_too() {
    let mut harness = ready(10);
    let out =
        harness.exchange("BDAT 8\r\n12345678BDAT 8\r\nQUIT\r\n12BDAT 3\r\nabcBDAT 2 LAST\r\nxy");
    assert_eq!(
        out,
        "250 2.0.0 8 octets received\r\n\
         552 5.3.4 Message size exceeds the fixed maximum message size\r\n\
         503 5.5.1 An earlier BDAT failed; send RSET\r\n\
         503 5.5.1 An earlier BDAT failed; send RSET\r\n"
    );
    assert_eq!(harness.aborted, 1, "the streamed first chunk is dropped");
    assert!(harness.stored.is_empty());
    assert!(!harness.closed, "QUIT inside a refused chunk is data");
    // BDAT LAST ended the transaction: a new one starts cleanly.
    let out =
        harness.exchange("MAIL FROM:<x@y.kr>\r\nRCPT TO:<kim@example.kr>\r\nBDAT 2 LAST\r\nok");
    assert!(out.ends_with("250 2.0.0 Message accepted\r\n"), "{out}");
}

#[test]
fn bdat_without_mail_consumes_its_chunk() {
    let mut harness = Harness::greeted(mx());
    let out = harness.exchange("EHLO a\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n");
    assert!(
        out.ends_with("503 5.5.1 Need MAIL before BDAT\r\n250 2.0.0 OK\r\n"),
        "{out}"
    );
    assert!(!harness.closed);
}

#[test]
fn data_after_bdat_is_a_bad_sequence() {
    let mut harness = ready(1000);
    let out = harness.exchange("BDAT 2\r\nabDATA\r\n");
    assert_eq!(
        out,
        "250 2.0.0 2 octets received\r\n503 5.5.1 DATA is not allowed after BDAT\r\n"
    );
}

#[test]
fn rset_after_bdat_drops_the_transaction() {
    let mut harness = ready(1000);
    harness.exchange("BDAT 2\r\nab");
    assert_eq!(
        harness.exchange("RSET\r\nDATA\r\n"),
        "250 2.0.0 OK\r\n503 5.5.1 Need MAIL before DATA\r\n"
    );
}
