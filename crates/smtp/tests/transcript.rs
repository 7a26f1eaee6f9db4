//! Whole sessions as `C:`/`S:` transcripts.

mod common;

use certmail_smtp::proto::{AuthRequest, BodyType, DsnReturn, Notify};
use common::*;

#[test]
fn submission_587_starttls_auth_plain_and_one_message() {
    let script = format!(
        "S: 220 mail.example.kr ESMTP certmail
         C: EHLO client.example.kr
         {EHLO_BEFORE_TLS}
         C: STARTTLS
         S: 220 2.0.0 Ready to start TLS
         C: EHLO client.example.kr
         {EHLO_AFTER_TLS}
         C: AUTH PLAIN {plain}
         S: 235 2.7.0 Authentication successful
         C: MAIL FROM:<hong@example.kr> SIZE=120 BODY=8BITMIME
         S: 250 2.1.0 Sender OK
         C: RCPT TO:<kim@example.kr> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;kim@example.kr
         S: 250 2.1.5 Recipient OK
         C: DATA
         S: 354 Start mail input; end with <CRLF>.<CRLF>
         C: From: 홍길동 <hong@example.kr>
         C: To: 김철수 <kim@example.kr>
         C: Subject: 회의
         C:
         C: 내일 회의는 10시입니다.
         C: .
         S: 250 2.0.0 Message accepted
         C: QUIT
         S: 221 2.0.0 Bye",
        plain = plain_response()
    );
    let harness = transcript(submission_587(), &script);
    assert!(harness.closed);
    assert_eq!(harness.stored.len(), 1);
    let stored = &harness.stored[0];
    assert_eq!(
        String::from_utf8(stored.body.clone()).expect("UTF-8 body"),
        "From: 홍길동 <hong@example.kr>\r\nTo: 김철수 <kim@example.kr>\r\nSubject: 회의\r\n\r\n\
         내일 회의는 10시입니다.\r\n"
    );
    assert_eq!(stored.envelope.mail_from, ACCOUNT);
    assert_eq!(stored.envelope.params.size, Some(120));
    assert_eq!(stored.envelope.params.body, Some(BodyType::EightBitMime));
    assert_eq!(stored.envelope.rcpts.len(), 1);
    assert_eq!(
        stored.envelope.rcpts[0].notify,
        Notify {
            success: true,
            failure: true,
            delay: false,
            never: false
        }
    );
    assert_eq!(
        stored.envelope.rcpts[0].orcpt.as_deref(),
        Some("kim@example.kr")
    );
}

#[test]
fn submission_465_auth_external_with_equals() {
    let harness = signed_in_with_external_on_465(&format!(
        "C: EHLO client
         {EHLO_AFTER_AUTH}
         C: QUIT
         S: 221 2.0.0 Bye"
    ));
    assert_eq!(
        harness.auth_requests,
        vec![AuthRequest::External { authzid: None }]
    );
}

#[test]
fn auth_external_without_initial_response_gets_empty_challenge() {
    let harness = on_465_after_ehlo(&format!(
        "C: AUTH EXTERNAL
         S: 334 
         C: {authzid}
         S: 235 2.7.0 Authentication successful",
        authzid = b64(ACCOUNT)
    ));
    assert_eq!(
        harness.auth_requests,
        vec![AuthRequest::External {
            authzid: Some(ACCOUNT.into())
        }]
    );
}

#[test]
fn auth_login_two_step_and_plain_continuation() {
    on_465_after_ehlo(&format!(
        "C: AUTH LOGIN
         S: 334 VXNlcm5hbWU6
         C: {user}
         S: 334 UGFzc3dvcmQ6
         C: {wrong}
         S: 535 5.7.8 Authentication credentials invalid
         C: AUTH PLAIN
         S: 334 
         C: {plain}
         S: 235 2.7.0 Authentication successful",
        user = b64(ACCOUNT),
        wrong = b64("틀린암호"),
        plain = plain_response()
    ));
}

#[test]
fn auth_login_with_initial_response_asks_for_the_password() {
    on_465_after_ehlo(&format!(
        "C: AUTH LOGIN {user}
         S: 334 UGFzc3dvcmQ6
         C: {password}
         S: 235 2.7.0 Authentication successful",
        user = b64(ACCOUNT),
        password = b64(PASSWORD)
    ));
}

#[test]
fn auth_cancelled_with_star() {
    let harness = on_465_after_ehlo(
        "C: AUTH PLAIN
         S: 334 
         C: *
         S: 501 5.7.0 Authentication cancelled
         C: NOOP
         S: 250 2.0.0 OK",
    );
    assert!(!harness.session.is_authenticated());
}

/// RFC 2920 §3.1's example, on our MX listener with example.kr as the local domain.
#[test]
fn rfc2920_pipelining_example() {
    let script = format!(
        "S: 220 mail.example.kr ESMTP certmail
         C: EHLO dbc.mtview.ca.us
         {EHLO_BEFORE_TLS}
         C: MAIL FROM:<mrose@dbc.mtview.ca.us>
         C: RCPT TO:<hong@example.kr>
         C: RCPT TO:<kim@example.kr>
         C: DATA
         S: 250 2.1.0 Sender OK
         S: 250 2.1.5 Recipient OK
         S: 250 2.1.5 Recipient OK
         S: 354 Start mail input; end with <CRLF>.<CRLF>
         C: Subject: pipelined
         C:
         C: body
         C: .
         C: QUIT
         S: 250 2.0.0 Message accepted
         S: 221 2.0.0 Bye"
    );
    let harness = transcript(mx(), &script);
    assert_eq!(harness.stored.len(), 1);
    assert_eq!(harness.stored[0].envelope.rcpts.len(), 2);
}

/// RFC 2920 §3.2's second example: one recipient refused in the middle of a pipeline.
#[test]
fn rfc2920_pipelining_with_a_refused_recipient() {
    let script = format!(
        "C: EHLO dbc.mtview.ca.us
         {EHLO_BEFORE_TLS}
         C: MAIL FROM:<mrose@dbc.mtview.ca.us>
         C: RCPT TO:<hong@example.kr>
         C: RCPT TO:<dan@innsoft.com>
         C: RCPT TO:<kim@example.kr>
         C: DATA
         S: 250 2.1.0 Sender OK
         S: 250 2.1.5 Recipient OK
         S: 554 5.7.1 Relaying denied
         S: 250 2.1.5 Recipient OK
         S: 354 Start mail input; end with <CRLF>.<CRLF>"
    );
    transcript_after_greeting(mx(), &script);
}

#[test]
fn pipelined_replies_leave_in_one_write() {
    let mut harness = Harness::greeted(mx());
    harness
        .session
        .feed(b"EHLO a\r\nMAIL FROM:<x@y.kr>\r\nRCPT TO:<hong@example.kr>\r\nRSET\r\nNOOP\r\n");
    let mut writes = 0;
    while let Some(action) = harness.session.next_action() {
        match action {
            certmail_smtp::proto::Action::Write(_) => writes += 1,
            certmail_smtp::proto::Action::CheckSender { .. } => {
                harness.session.mail_result(Ok(())).expect("asked");
            }
            certmail_smtp::proto::Action::CheckRecipient(_) => {
                harness.session.rcpt_result(Ok(())).expect("asked");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The EHLO reply leaves before the sender check; the other three leave together.
    assert_eq!(writes, 3, "EHLO, MAIL, then RCPT+RSET+NOOP");
}

#[test]
fn dsn_and_utf8_parameters_reach_the_envelope() {
    let script = format!(
        "C: EHLO client
         {EHLO_BEFORE_TLS}
         C: MAIL FROM:<홍길동@example.kr> SMTPUTF8 RET=HDRS ENVID=QQ314159
         S: 250 2.1.0 Sender OK
         C: RCPT TO:<kim@example.kr> NOTIFY=NEVER
         S: 250 2.1.5 Recipient OK
         C: BDAT 0 LAST
         S: 250 2.0.0 Message accepted"
    );
    let harness = transcript_after_greeting(mx(), &script);
    let envelope = &harness.stored[0].envelope;
    assert_eq!(envelope.mail_from, "홍길동@example.kr");
    assert!(envelope.params.smtputf8);
    assert_eq!(envelope.params.ret, Some(DsnReturn::Headers));
    assert_eq!(envelope.params.envid.as_deref(), Some("QQ314159"));
    assert!(envelope.rcpts[0].notify.never);
}

#[test]
fn helo_gets_a_plain_reply_and_second_ehlo_resets_the_transaction() {
    let script = format!(
        "C: HELO client
         S: 250 mail.example.kr
         C: MAIL FROM:<a@b.kr>
         S: 250 2.1.0 Sender OK
         C: EHLO client
         {EHLO_BEFORE_TLS}
         C: RCPT TO:<kim@example.kr>
         S: 503 5.5.1 Need MAIL before RCPT"
    );
    transcript_after_greeting(mx(), &script);
}

#[test]
fn rset_noop_vrfy_help_expn_quit_pipelined() {
    let script = format!(
        "C: EHLO client
         C: MAIL FROM:<a@b.kr>
         C: RSET
         C: RCPT TO:<kim@example.kr>
         C: NOOP
         C: VRFY kim
         C: HELP
         C: EXPN staff
         C: QUIT
         {EHLO_BEFORE_TLS}
         S: 250 2.1.0 Sender OK
         S: 250 2.0.0 OK
         S: 503 5.5.1 Need MAIL before RCPT
         S: 250 2.0.0 OK
         S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
         S: 214 2.0.0 See RFC 5321; commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT
         S: 502 5.5.1 Command not implemented
         S: 221 2.0.0 Bye"
    );
    let harness = transcript_after_greeting(mx(), &script);
    assert!(harness.closed);
}

#[test]
#[should_panic(expected = "after client sent")]
fn transcript_harness_catches_a_wrong_reply() {
    transcript_after_greeting(mx(), "C: NOOP\nS: 250 2.0.0 Not what the server says");
}

/// Like [`transcript`], without the greeting line in the script.
fn transcript_after_greeting(config: certmail_smtp::proto::SessionConfig, script: &str) -> Harness {
    transcript(
        config,
        &format!("S: 220 mail.example.kr ESMTP certmail\n{script}"),
    )
}

/// Like [`transcript_after_greeting`] on port 465, the script going on after `EHLO client`.
fn on_465_after_ehlo(script: &str) -> Harness {
    transcript_after_greeting(
        submission_465(),
        &format!("C: EHLO client\n{EHLO_AFTER_TLS}\n{script}"),
    )
}

/// Like [`on_465_after_ehlo`], the script going on after `AUTH EXTERNAL =` has
/// signed in.
fn signed_in_with_external_on_465(script: &str) -> Harness {
    on_465_after_ehlo(&format!(
        "C: AUTH EXTERNAL =
         S: 235 2.7.0 Authentication successful
         {script}"
    ))
}

#[test]
fn requiretls_is_offered_over_tls_and_reaches_the_envelope() {
    let harness = signed_in_with_external_on_465(
        "C: MAIL FROM:<hong@example.kr> REQUIRETLS
         S: 250 2.1.0 Sender OK
         C: RCPT TO:<kim@example.kr>
         S: 250 2.1.5 Recipient OK
         C: BDAT 0 LAST
         S: 250 2.0.0 Message accepted",
    );
    assert!(harness.stored[0].envelope.params.requiretls);
}
