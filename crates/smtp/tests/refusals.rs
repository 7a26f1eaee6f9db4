//! Every refusal the protocol layer makes (or passes on from the driver), with its exact
//! code, enhanced code and text.

mod common;

use certmail_smtp::proto::SessionConfig;
use common::*;

/// Sends `setup` (replies ignored), then `line`, and returns the reply to `line`.
fn reply_to(config: SessionConfig, setup: &str, line: &str) -> String {
    let mut harness = Harness::greeted(config);
    harness.send(setup);
    harness.take_output();
    harness.exchange(line)
}

/// A signed-in submission session on port 465.
fn signed_in() -> String {
    format!("EHLO client\r\nAUTH PLAIN {}\r\n", plain_response())
}

#[test]
fn auth_before_starttls_on_587() {
    assert_eq!(
        reply_to(
            submission_587(),
            "EHLO c\r\n",
            &format!("AUTH PLAIN {}\r\n", plain_response())
        ),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
}

#[test]
fn mail_before_starttls_on_587() {
    assert_eq!(
        reply_to(
            submission_587(),
            "EHLO c\r\n",
            "MAIL FROM:<hong@example.kr>\r\n"
        ),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
}

#[test]
fn mail_without_sign_in_on_submission() {
    assert_eq!(
        reply_to(
            submission_465(),
            "EHLO c\r\n",
            "MAIL FROM:<hong@example.kr>\r\n"
        ),
        "530 5.7.0 Authentication required\r\n"
    );
}

#[test]
fn mail_before_ehlo() {
    assert_eq!(
        reply_to(mx(), "", "MAIL FROM:<a@b.kr>\r\n"),
        "503 5.5.1 Send EHLO first\r\n"
    );
}

#[test]
fn auth_before_ehlo() {
    assert_eq!(
        reply_to(submission_465(), "", "AUTH EXTERNAL =\r\n"),
        "503 5.5.1 Send EHLO first\r\n"
    );
}

#[test]
fn auth_on_mx() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "AUTH EXTERNAL =\r\n"),
        "503 5.5.1 Authentication is not offered here\r\n"
    );
}

#[test]
fn auth_twice() {
    assert_eq!(
        reply_to(submission_465(), &signed_in(), "AUTH EXTERNAL =\r\n"),
        "503 5.5.1 Already authenticated\r\n"
    );
}

#[test]
fn auth_during_a_transaction() {
    let mut config = submission_465();
    config.auth_required_for_mail = false;
    assert_eq!(
        reply_to(
            config,
            "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n",
            "AUTH EXTERNAL =\r\n"
        ),
        "503 5.5.1 AUTH is not allowed during a transaction\r\n"
    );
}

#[test]
fn auth_with_a_mechanism_we_do_not_offer() {
    for line in ["AUTH CRAM-MD5\r\n", "AUTH X-UNHEARD-OF\r\n"] {
        assert_eq!(
            reply_to(submission_465(), "EHLO c\r\n", line),
            "504 5.5.4 Unrecognized authentication type\r\n",
            "{line}"
        );
    }
}

#[test]
fn auth_without_a_mechanism() {
    assert_eq!(
        reply_to(submission_465(), "EHLO c\r\n", "AUTH\r\n"),
        "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
    );
}

#[test]
fn auth_response_that_is_not_base64() {
    assert_eq!(
        reply_to(submission_465(), "EHLO c\r\n", "AUTH PLAIN !!!\r\n"),
        "501 5.5.2 Cannot decode the authentication response\r\n"
    );
}

#[test]
fn auth_cancelled() {
    assert_eq!(
        reply_to(submission_465(), "EHLO c\r\nAUTH LOGIN\r\n", "*\r\n"),
        "501 5.7.0 Authentication cancelled\r\n"
    );
}

#[test]
fn auth_with_a_wrong_password() {
    let wrong = b64(&format!("\0{ACCOUNT}\0틀린암호"));
    assert_eq!(
        reply_to(
            submission_465(),
            "EHLO c\r\n",
            &format!("AUTH PLAIN {wrong}\r\n")
        ),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
}

#[test]
fn mail_from_an_address_that_is_not_the_accounts() {
    assert_eq!(
        reply_to(
            submission_465(),
            &signed_in(),
            "MAIL FROM:<kim@example.kr>\r\n"
        ),
        "550 5.7.1 Sender address is not yours\r\n"
    );
}

#[test]
fn nested_mail() {
    assert_eq!(
        reply_to(
            mx(),
            "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n",
            "MAIL FROM:<a@b.kr>\r\n"
        ),
        "503 5.5.1 Nested MAIL command\r\n"
    );
}

#[test]
fn mail_with_a_declared_size_over_the_limit() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "MAIL FROM:<a@b.kr> SIZE=52428801\r\n"),
        "552 5.3.4 Message size exceeds the fixed maximum message size\r\n"
    );
}

#[test]
fn requiretls_over_cleartext_is_refused() {
    // RFC 8689 §4.1: offered (and accepted) over TLS only; the mx() session has no TLS.
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "MAIL FROM:<a@b.kr> REQUIRETLS\r\n"),
        "530 5.7.10 REQUIRETLS needs a TLS connection\r\n"
    );
}

#[test]
fn mail_parameters_we_do_not_offer() {
    for line in [
        "MAIL FROM:<a@b.kr> BODY=BINARYMIME\r\n",
        "MAIL FROM:<a@b.kr> X-UNKNOWN=1\r\n",
        "MAIL FROM:<a@b.kr> MT-PRIORITY=3\r\n",
    ] {
        assert_eq!(
            reply_to(mx(), "EHLO c\r\n", line),
            "555 5.5.4 Parameter not recognized or not implemented\r\n",
            "{line}"
        );
    }
}

#[test]
fn non_ascii_addresses_without_smtputf8() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "MAIL FROM:<홍길동@example.kr>\r\n"),
        "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n"
    );
    assert_eq!(
        reply_to(
            mx(),
            "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n",
            "RCPT TO:<김철수@example.kr>\r\n"
        ),
        "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter\r\n"
    );
}

#[test]
fn mail_syntax_errors() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "MAIL FROM a@b.kr\r\n"),
        "501 5.5.4 Syntax: MAIL FROM:<reverse-path> [parameters]\r\n"
    );
    assert_eq!(
        reply_to(mx(), "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n", "RCPT TO kim\r\n"),
        "501 5.5.4 Syntax: RCPT TO:<forward-path> [parameters]\r\n"
    );
}

#[test]
fn rcpt_before_mail() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "RCPT TO:<kim@example.kr>\r\n"),
        "503 5.5.1 Need MAIL before RCPT\r\n"
    );
}

#[test]
fn unknown_local_user_and_relaying() {
    let setup = "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n";
    assert_eq!(
        reply_to(mx(), setup, "RCPT TO:<nobody@example.kr>\r\n"),
        "550 5.1.1 No such user\r\n"
    );
    assert_eq!(
        reply_to(mx(), setup, "RCPT TO:<someone@elsewhere.com>\r\n"),
        "554 5.7.1 Relaying denied\r\n"
    );
}

#[test]
fn too_many_recipients() {
    let mut config = mx();
    config.max_recipients = 2;
    let setup =
        "EHLO c\r\nMAIL FROM:<a@b.kr>\r\nRCPT TO:<kim@example.kr>\r\nRCPT TO:<hong@example.kr>\r\n";
    assert_eq!(
        reply_to(config, setup, "RCPT TO:<kim@example.kr>\r\n"),
        "452 4.5.3 Too many recipients\r\n"
    );
}

#[test]
fn rcpt_parameters_we_do_not_offer() {
    assert_eq!(
        reply_to(
            mx(),
            "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n",
            "RCPT TO:<kim@example.kr> X-FOO=1\r\n"
        ),
        "555 5.5.4 Parameter not recognized or not implemented\r\n"
    );
}

#[test]
fn data_before_mail_and_without_recipients() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "DATA\r\n"),
        "503 5.5.1 Need MAIL before DATA\r\n"
    );
    assert_eq!(
        reply_to(
            mx(),
            "EHLO c\r\nMAIL FROM:<a@b.kr>\r\nRCPT TO:<x@elsewhere.com>\r\n",
            "DATA\r\n"
        ),
        "554 5.5.1 No valid recipients\r\n"
    );
}

#[test]
fn bdat_without_recipients() {
    assert_eq!(
        reply_to(
            mx(),
            "EHLO c\r\nMAIL FROM:<a@b.kr>\r\n",
            "BDAT 2 LAST\r\nab"
        ),
        "554 5.5.1 No valid recipients\r\n"
    );
}

#[test]
fn unknown_command_and_unimplemented_commands() {
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", "FROB\r\n"),
        "500 5.5.1 Command unrecognized\r\n"
    );
    for line in ["EXPN staff\r\n", "ETRN example.kr\r\n", "LHLO c\r\n"] {
        assert_eq!(
            reply_to(mx(), "EHLO c\r\n", line),
            "502 5.5.1 Command not implemented\r\n",
            "{line}"
        );
    }
}

#[test]
fn line_too_long() {
    let line = format!("NOOP {}\r\n", "가".repeat(2000));
    assert_eq!(
        reply_to(mx(), "EHLO c\r\n", &line),
        "500 5.5.2 Line too long\r\n"
    );
}

#[test]
fn starttls_unavailable_or_already_active() {
    let mut config = mx();
    config.starttls_available = false;
    assert_eq!(
        reply_to(config, "EHLO c\r\n", "STARTTLS\r\n"),
        "454 4.7.0 TLS not available\r\n"
    );
    assert_eq!(
        reply_to(submission_465(), "EHLO c\r\n", "STARTTLS\r\n"),
        "503 5.5.1 TLS already active\r\n"
    );
}

#[test]
fn ehlo_without_a_domain() {
    assert_eq!(
        reply_to(mx(), "", "EHLO\r\n"),
        "501 5.5.4 Syntax: EHLO domain\r\n"
    );
}

/// With the password required (the default), EHLO offers only mechanisms that can succeed.
#[test]
fn external_is_not_offered_when_the_password_is_required() {
    let mut s = certmail_smtp::proto::Session::new(certmail_smtp::proto::SessionConfig::new(
        "mail.example.kr",
        certmail_smtp::proto::ListenerKind::Submission { implicit_tls: true },
    ));
    s.feed(b"EHLO client\r\n");
    let mut out = Vec::new();
    while let Some(a) = s.next_action() {
        if let certmail_smtp::proto::Action::Write(b) = a {
            out.extend(b);
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("250 AUTH PLAIN LOGIN\r\n"), "{text}");
}
