//! Port 143 before STARTTLS (RFC 3501 §6.2.1, §6.2.3): transcripts, split input, and the
//! rule that bytes after the STARTTLS line are discarded.

use certmail_imap::proto::plaintext::{PlaintextLimits, PlaintextOutcome, PlaintextPhase};

fn run_whole(input: &[u8]) -> (Vec<u8>, PlaintextOutcome) {
    let mut phase = PlaintextPhase::new(PlaintextLimits::default());
    let step = phase.feed(input);
    (step.output, step.outcome)
}

fn run_bytewise(input: &[u8]) -> (Vec<u8>, PlaintextOutcome) {
    let mut phase = PlaintextPhase::new(PlaintextLimits::default());
    let mut output = Vec::new();
    let mut outcome = PlaintextOutcome::Continue;
    for byte in input {
        let step = phase.feed(std::slice::from_ref(byte));
        output.extend(step.output);
        outcome = step.outcome;
    }
    (output, outcome)
}

/// Checks the transcript whole and fed one byte at a time.
fn transcript(client: &str, server: &str, outcome: PlaintextOutcome) {
    for (output, got) in [
        run_whole(client.as_bytes()),
        run_bytewise(client.as_bytes()),
    ] {
        assert_eq!(String::from_utf8_lossy(&output), server);
        assert_eq!(got, outcome);
    }
}

#[test]
fn greeting_advertises_starttls_and_logindisabled() {
    assert_eq!(
        PlaintextPhase::greeting("certmail ready"),
        b"* OK [CAPABILITY IMAP4REV1 STARTTLS LOGINDISABLED] certmail ready\r\n"
    );
}

#[test]
fn rfc3501_capability_noop_starttls() {
    // RFC 3501 §6.1.1 and §6.2.1 examples.
    transcript(
        "abcd CAPABILITY\r\na002 NOOP\r\na001 STARTTLS\r\n",
        "* CAPABILITY IMAP4REV1 STARTTLS LOGINDISABLED\r\nabcd OK CAPABILITY completed\r\n\
         a002 OK NOOP completed\r\na001 OK Begin TLS negotiation now\r\n",
        PlaintextOutcome::StartTls,
    );
}

#[test]
fn rfc3501_logout() {
    transcript(
        "A023 LOGOUT\r\n",
        "* BYE Logging out\r\nA023 OK LOGOUT completed\r\n",
        PlaintextOutcome::Close,
    );
}

#[test]
fn sign_in_before_tls_is_refused_with_privacyrequired() {
    transcript(
        "a001 LOGIN SMITH SESAME\r\na002 AUTHENTICATE PLAIN AGhvbmcAc2VjcmV0\r\na003 AUTHENTICATE EXTERNAL\r\n",
        "a001 NO [PRIVACYREQUIRED] Sign-in needs TLS: use STARTTLS first, or port 993\r\n\
         a002 NO [PRIVACYREQUIRED] Sign-in needs TLS: use STARTTLS first, or port 993\r\n\
         a003 NO [PRIVACYREQUIRED] Sign-in needs TLS: use STARTTLS first, or port 993\r\n",
        PlaintextOutcome::Continue,
    );
}

#[test]
fn bytes_after_starttls_are_discarded() {
    // A command injected after STARTTLS in the same packet must never run (CVE-2011-0411).
    let mut phase = PlaintextPhase::new(PlaintextLimits::default());
    let step = phase.feed(b"a1 STARTTLS\r\na2 LOGOUT\r\n");
    assert_eq!(step.output, b"a1 OK Begin TLS negotiation now\r\n");
    assert_eq!(step.outcome, PlaintextOutcome::StartTls);
    let later = phase.feed(b"a3 NOOP\r\n");
    assert!(later.output.is_empty());
    assert_eq!(later.outcome, PlaintextOutcome::StartTls);
}

#[test]
fn other_commands_and_garbage_are_bad() {
    transcript(
        "a1 SELECT INBOX\r\nthis is not imap\r\n",
        "a1 BAD Only CAPABILITY, NOOP, LOGOUT and STARTTLS before STARTTLS\r\n\
         this BAD Syntax error or not allowed before STARTTLS\r\n",
        PlaintextOutcome::Continue,
    );
}

#[test]
fn literals_are_refused_without_continuation() {
    // A synchronizing literal gets no "+": the client must not send it.
    transcript(
        "a1 LOGIN {5}\r\n",
        "a1 BAD Literals are not accepted before STARTTLS\r\n",
        PlaintextOutcome::Continue,
    );
    // A non-synchronizing literal is swallowed whole, so its bytes never run as commands.
    transcript(
        "a1 LOGIN {14+}\r\nb1 LOGOUT\r\nxx yy\r\na2 NOOP\r\n",
        "a1 BAD Syntax error or not allowed before STARTTLS\r\na2 OK NOOP completed\r\n",
        PlaintextOutcome::Continue,
    );
}

#[test]
fn bare_lf_is_bad() {
    transcript(
        "a1 NOOP\n",
        "a1 BAD Syntax error or not allowed before STARTTLS\r\n",
        PlaintextOutcome::Continue,
    );
}

#[test]
fn too_many_bad_commands_close_the_connection() {
    let input = "x\r\n".repeat(10);
    let (output, outcome) = run_whole(input.as_bytes());
    assert_eq!(outcome, PlaintextOutcome::Close);
    assert!(String::from_utf8_lossy(&output).ends_with("* BYE Too many bad commands\r\n"));
}

#[test]
fn overlong_line_is_bad_and_framing_recovers() {
    let mut input = format!("a1 NOOP {}\r\n", "x".repeat(10_000));
    input.push_str("a2 NOOP\r\n");
    let (output, _) = run_whole(input.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&output),
        "a1 BAD Command too long\r\na2 OK NOOP completed\r\n"
    );
}
