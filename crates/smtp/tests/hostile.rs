//! Hostile and broken clients: STARTTLS injection, non-SMTP peers, error and command
//! limits, and a driver that answers the wrong question.

mod common;

use certmail_smtp::Error;
use certmail_smtp::proto::{Action, Reply, Session};
use common::*;

#[test]
fn plaintext_pipelined_after_starttls_is_discarded() {
    // CVE-2011-0411: commands sent in the same packet as STARTTLS must not be executed
    // as if they had come over TLS.
    let mut harness = Harness::greeted(mx());
    harness.exchange("EHLO a\r\n");
    let out = harness
        .exchange("STARTTLS\r\nMAIL FROM:<evil@attacker.com>\r\nRCPT TO:<kim@example.kr>\r\n");
    assert_eq!(out, "220 2.0.0 Ready to start TLS\r\n");
    assert!(harness.session.is_tls_active());
    // Nothing of the injected transaction survives; the EHLO name is forgotten too.
    assert_eq!(
        harness.exchange("RCPT TO:<kim@example.kr>\r\nMAIL FROM:<a@b.kr>\r\n"),
        "503 5.5.1 Need MAIL before RCPT\r\n503 5.5.1 Send EHLO first\r\n"
    );
    assert!(harness.session.client_name().is_none());
}

#[test]
fn bytes_fed_before_the_handshake_finishes_are_discarded() {
    let mut harness = Harness::greeted(submission_587());
    harness.auto_tls = false;
    harness.exchange("EHLO a\r\n");
    assert_eq!(
        harness.exchange("STARTTLS\r\n"),
        "220 2.0.0 Ready to start TLS\r\n"
    );
    assert!(harness.tls_pending);
    assert_eq!(harness.exchange("NOOP\r\nQUIT\r\n"), "");
    harness.finish_tls();
    assert_eq!(harness.take_output(), "");
    assert!(
        !harness.closed,
        "the QUIT sent before the handshake was dropped"
    );
    assert_eq!(harness.exchange("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

#[test]
fn starttls_drops_an_open_transaction() {
    let mut harness = Harness::greeted(mx());
    harness.exchange("EHLO a\r\nMAIL FROM:<a@b.kr>\r\nRCPT TO:<kim@example.kr>\r\n");
    harness.exchange("STARTTLS\r\n");
    assert_eq!(
        harness.exchange("EHLO a\r\nDATA\r\n").lines().last(),
        Some("503 5.5.1 Need MAIL before DATA")
    );
}

#[test]
fn ehlo_after_tls_no_longer_offers_starttls() {
    let mut harness = Harness::greeted(mx());
    harness.exchange("STARTTLS\r\n");
    let out = harness.exchange("EHLO a\r\n");
    assert!(!out.contains("STARTTLS"), "{out}");
    assert!(!out.contains("AUTH"), "MX never offers AUTH: {out}");
}

#[test]
fn http_request_gets_one_reply_and_close() {
    let mut harness = Harness::greeted(mx());
    let out = harness.exchange("GET / HTTP/1.1\r\nHost: mail.example.kr\r\n\r\n");
    assert_eq!(out, "500 5.5.1 This is an SMTP server\r\n");
    assert!(harness.closed);
    assert!(harness.session.is_closed());
}

#[test]
fn tls_client_hello_on_a_plaintext_port_gets_one_reply_and_close() {
    let mut harness = Harness::greeted(submission_587());
    // The start of a TLS 1.2 ClientHello record: no LF anywhere, the client waits.
    let out = {
        harness.feed(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ]);
        harness.take_output()
    };
    assert_eq!(out, "500 5.5.1 This is an SMTP server\r\n");
    assert!(harness.closed);
    harness.feed(b"EHLO a\r\n");
    assert_eq!(harness.take_output(), "", "input after close is ignored");
}

#[test]
fn unknown_command_later_in_the_session_does_not_close() {
    let mut harness = Harness::greeted(mx());
    assert_eq!(
        harness
            .exchange("EHLO a\r\nGET / HTTP/1.1\r\nNOOP\r\n")
            .lines()
            .rev()
            .take(2)
            .collect::<Vec<_>>(),
        ["250 2.0.0 OK", "500 5.5.1 Command unrecognized"]
    );
    assert!(!harness.closed);
}

#[test]
fn overlong_line_keeps_framing() {
    let mut config = mx();
    config.max_line_length = 512;
    let mut harness = Harness::greeted(config);
    harness.exchange("EHLO a\r\n");
    // 513 octets with CRLF: one over the limit. Its tail must not be read as a command.
    let line = format!("NOOP {}QUIT\r\n", "x".repeat(502));
    assert_eq!(line.len(), 513);
    assert_eq!(
        harness.exchange(&format!("{line}NOOP\r\n")),
        "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n"
    );
    // 512 octets is fine.
    let line = format!("NOOP {}\r\n", "x".repeat(505));
    assert_eq!(line.len(), 512);
    assert_eq!(harness.exchange(&line), "250 2.0.0 OK\r\n");
    assert!(!harness.closed);
}

#[test]
fn too_many_errors_closes_with_421() {
    let mut config = mx();
    config.max_errors = 3;
    let mut harness = Harness::greeted(config);
    let out = harness.exchange("EHLO a\r\nFROB\r\nRCPT TO:<a@b.kr>\r\nDATA\r\nNOOP\r\n");
    let tail: Vec<&str> = out.lines().skip_while(|l| l.starts_with("250")).collect();
    assert_eq!(
        tail,
        [
            "500 5.5.1 Command unrecognized",
            "503 5.5.1 Need MAIL before RCPT",
            "503 5.5.1 Need MAIL before DATA",
            "421 4.7.0 Too many errors, closing connection"
        ]
    );
    assert!(harness.closed);
}

#[test]
fn too_many_commands_before_sign_in_closes_with_421() {
    let mut config = submission_465();
    config.max_commands_before_auth = 3;
    let mut harness = Harness::greeted(config);
    let out = harness.exchange("NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
    assert_eq!(
        out,
        "250 2.0.0 OK\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n\
         421 4.7.0 Too many commands without signing in, closing connection\r\n"
    );
    assert!(harness.closed);
}

#[test]
fn signed_in_clients_have_no_command_cap() {
    let mut config = submission_465();
    config.max_commands_before_auth = 3;
    let mut harness = Harness::greeted(config);
    harness.exchange(&format!("EHLO a\r\nAUTH PLAIN {}\r\n", plain_response()));
    assert_eq!(
        harness.exchange(&"NOOP\r\n".repeat(10)),
        "250 2.0.0 OK\r\n".repeat(10)
    );
}

#[test]
fn a_pending_decision_holds_back_pipelined_commands() {
    let mut session = Session::new(mx());
    assert!(matches!(session.next_action(), Some(Action::Write(_))));
    session.feed(b"EHLO a\r\nMAIL FROM:<a@b.kr>\r\nRCPT TO:<kim@example.kr>\r\nQUIT\r\n");
    assert!(matches!(session.next_action(), Some(Action::Write(_))));
    assert!(matches!(
        session.next_action(),
        Some(Action::CheckSender { .. })
    ));
    assert_eq!(
        session.next_action(),
        None,
        "RCPT waits for the MAIL decision"
    );
    assert!(session.is_waiting_for_decision());
    session
        .mail_result(Err(Reply::new(550, (5, 7, 1), "Not allowed")))
        .expect("MAIL was asked");
    assert_eq!(
        session.next_action(),
        Some(Action::Write(
            b"550 5.7.1 Not allowed\r\n503 5.5.1 Need MAIL before RCPT\r\n221 2.0.0 Bye\r\n"
                .to_vec()
        ))
    );
    assert_eq!(session.next_action(), Some(Action::Close));
    assert_eq!(session.next_action(), None);
}

#[test]
fn answering_a_question_that_was_not_asked_is_an_error() {
    let mut session = Session::new(mx());
    assert!(matches!(
        session.rcpt_result(Ok(())),
        Err(Error::UnexpectedCall {
            call: "rcpt_result"
        })
    ));
    session.feed(b"EHLO a\r\nMAIL FROM:<a@b.kr>\r\n");
    while let Some(action) = session.next_action() {
        if matches!(action, Action::CheckSender { .. }) {
            break;
        }
    }
    // Asked about the sender, answered about a recipient: refused, still waiting.
    assert!(session.rcpt_result(Ok(())).is_err());
    assert!(
        session
            .message_result(Reply::new(250, (2, 0, 0), "x"))
            .is_err()
    );
    assert!(session.tls_established().is_err());
    assert!(session.mail_result(Ok(())).is_ok());
}

#[test]
fn close_with_sends_the_reply_then_closes() {
    let mut harness = Harness::greeted(mx());
    harness.session.close_with(Reply::new(
        421,
        (4, 4, 2),
        "Idle too long, closing connection",
    ));
    harness.drive();
    assert_eq!(
        harness.take_output(),
        "421 4.4.2 Idle too long, closing connection\r\n"
    );
    assert!(harness.closed);
}

#[test]
fn expecting_follows_the_session_for_timeouts() {
    use certmail_smtp::proto::Expecting;
    let mut session = Session::new(submission_465());
    let drain = |session: &mut Session| while session.next_action().is_some() {};
    drain(&mut session);
    assert_eq!(session.expecting(), Expecting::Command);
    session.feed(b"EHLO a\r\nAUTH PLAIN\r\n");
    drain(&mut session);
    assert_eq!(session.expecting(), Expecting::AuthResponse);
    session.feed(plain_response().as_bytes());
    session.feed(b"\r\n");
    assert!(matches!(
        session.next_action(),
        Some(Action::Authenticate(_))
    ));
    assert_eq!(session.expecting(), Expecting::Decision);
    let debug = format!("{session:?}");
    assert!(
        !debug.contains(PASSWORD) && !debug.contains(&plain_response()),
        "{debug}"
    );
    session.auth_result(Ok(())).expect("asked");
    session.feed(b"MAIL FROM:<hong@example.kr>\r\n");
    assert!(matches!(session.next_action(), Some(Action::Write(_))));
    assert!(matches!(
        session.next_action(),
        Some(Action::CheckSender { .. })
    ));
    session.mail_result(Ok(())).expect("asked");
    session.feed(b"RCPT TO:<kim@example.kr>\r\n");
    assert!(matches!(session.next_action(), Some(Action::Write(_))));
    assert!(matches!(
        session.next_action(),
        Some(Action::CheckRecipient(_))
    ));
    session.rcpt_result(Ok(())).expect("asked");
    session.feed(b"BDAT 10\r\nabc");
    drain(&mut session);
    assert_eq!(session.expecting(), Expecting::MessageBody);
    session.close_with(Reply::new(421, (4, 4, 2), "Timeout"));
    assert_eq!(session.expecting(), Expecting::Nothing);
}
