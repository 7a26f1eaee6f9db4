//! Session transcripts after TLS, from RFC 3501 §6.1–6.2 (and RFC 2971, 4959, 5161 for ID,
//! SASL-IR, ENABLE), run through the real driver; each also fed one byte at a time.

use std::future::Future;

use certmail_imap::{
    commands::sign_in::{
        Authenticator, RefusalCode, SignInMechanism, SignInRefusal, SignInRequest,
    },
    proto::{
        driver::{Driver, DriverLimits},
        literal::LiteralPool,
        response::no,
    },
    session::{Flow, Session, SessionConfig, SessionState},
};
use imap_next::{Interrupt, Io, State, server::Event};

/// Accounts: "hong" with password "secret" (certificate bound to hong); "lee" is locked.
struct TestAuthenticator;

impl Authenticator for TestAuthenticator {
    type Account = String;

    fn sign_in(
        &mut self,
        request: SignInRequest,
    ) -> impl Future<Output = Result<String, SignInRefusal>> + Send {
        let refuse = |code, text: &str| {
            Err(SignInRefusal {
                code,
                text: text.to_string(),
            })
        };
        let result = match request.mechanism {
            SignInMechanism::External => match request.authzid.as_deref() {
                None | Some("hong") | Some("hong@example.kr") => Ok("hong".to_string()),
                Some(_) => refuse(
                    RefusalCode::AuthenticationFailed,
                    "Your certificate is bound to another account",
                ),
            },
            SignInMechanism::Plain | SignInMechanism::Login => {
                let user = request.username.as_deref();
                let password = request.password.as_ref().map(|p| p.expose());
                match (user, password) {
                    (Some("hong"), Some("secret")) => Ok("hong".to_string()),
                    (Some("lee"), _) => refuse(
                        RefusalCode::ContactAdmin,
                        "Account locked: contact the administrator",
                    ),
                    _ => refuse(RefusalCode::AuthenticationFailed, "Wrong password"),
                }
            }
        };
        async move { result }
    }
}

fn new_session() -> Session<TestAuthenticator> {
    let config = SessionConfig {
        append_limit: 1000,
        max_failed_sign_ins: 3,
        max_bad_commands: 5,
        ..SessionConfig::default()
    };
    Session::new(config, TestAuthenticator)
}

/// Runs the session over `chunks`; commands the session leaves to its caller are answered
/// `NO [UNHANDLED-IN-TEST]`. Returns the transcript and the final state's name.
async fn run(chunks: &[&[u8]]) -> (String, &'static str) {
    let pool = LiteralPool::new(10_000);
    let mut driver = Driver::new(DriverLimits::for_append_limit(1000), pool, "certmail", true);
    let mut session = new_session();
    let mut out = String::new();
    let mut chunks = chunks.iter();
    let mut closing = false;
    loop {
        match driver.next() {
            Ok(_) if closing => {}
            Ok(event) => match session.handle_event(driver.server(), event).await {
                Flow::Continue => {}
                Flow::Close => closing = true,
                Flow::Unhandled(Event::CommandReceived { command }) => {
                    let code = certmail_imap::proto::response::code("UNHANDLED-IN-TEST");
                    driver.server().enqueue_status(no(
                        command.tag,
                        Some(code),
                        command.body.name(),
                    ));
                }
                Flow::Unhandled(other) => out.push_str(&format!("[unhandled {other:?}]")),
                Flow::Extended(command) => {
                    let code = certmail_imap::proto::response::code("UNHANDLED-IN-TEST");
                    let name = command.body.name();
                    driver
                        .server()
                        .enqueue_status(no(command.tag, Some(code), name));
                }
            },
            Err(Interrupt::Io(Io::Output(bytes))) => out.push_str(&String::from_utf8_lossy(&bytes)),
            Err(Interrupt::Io(Io::NeedMoreInput)) => match chunks.next() {
                Some(chunk) if !closing => driver.enqueue_input(chunk),
                _ => break,
            },
            Err(Interrupt::Error(error)) => {
                if let Flow::Close = session.handle_error(driver.server(), &error) {
                    closing = true;
                }
            }
        }
    }
    let state = match session.state() {
        SessionState::NotAuthenticated => "not-authenticated",
        SessionState::SignedIn(s) if s.selected.is_some() => "selected",
        SessionState::SignedIn(_) => "authenticated",
        SessionState::Logout => "logout",
    };
    (out, state)
}

/// The transcript, checked whole and byte by byte.
async fn transcript(client: &str, server: &str, state: &str) {
    let whole = run(&[client.as_bytes()]).await;
    let bytes: Vec<&[u8]> = client.as_bytes().chunks(1).collect();
    let split = run(&bytes).await;
    assert_eq!(whole.0, server);
    assert_eq!(whole.1, state);
    assert_eq!(split, whole, "split input differs");
}

const CAPS_TLS: &str = "IMAP4REV1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MULTIAPPEND CATENATE URLAUTH URLAUTH=BINARY MOVE UNSELECT \
                        CHILDREN SPECIAL-USE CONDSTORE QRESYNC BINARY QUOTA QUOTA=RES-STORAGE SORT \
                        SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES COMPRESS=DEFLATE ACL RIGHTS=texk APPENDLIMIT=1000 ESEARCH \
                        CONTEXT=SEARCH CONTEXT=SORT NOTIFY SEARCHRES LIST-EXTENDED LIST-STATUS CREATE-SPECIAL-USE STATUS=SIZE SASL-IR AUTH=PLAIN";
const CAPS_AUTH: &str = "IMAP4REV1 IMAP4rev2 LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MULTIAPPEND CATENATE URLAUTH URLAUTH=BINARY MOVE UNSELECT \
                         CHILDREN SPECIAL-USE CONDSTORE QRESYNC BINARY QUOTA QUOTA=RES-STORAGE SORT \
                         SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES COMPRESS=DEFLATE ACL RIGHTS=texk APPENDLIMIT=1000 ESEARCH \
                         CONTEXT=SEARCH CONTEXT=SORT NOTIFY SEARCHRES LIST-EXTENDED LIST-STATUS CREATE-SPECIAL-USE STATUS=SIZE";

#[tokio::test]
async fn rfc3501_capability_noop_logout() {
    transcript(
        "abcd CAPABILITY\r\na002 NOOP\r\nA023 LOGOUT\r\n",
        &format!(
            "* CAPABILITY {CAPS_TLS}\r\nabcd OK CAPABILITY completed\r\na002 OK NOOP completed\r\n\
             * BYE Logging out\r\nA023 OK LOGOUT completed\r\n"
        ),
        "logout",
    )
    .await;
}

#[tokio::test]
async fn rfc3501_login_then_capability_changes() {
    transcript(
        "a001 LOGIN hong secret\r\na002 CAPABILITY\r\n",
        &format!(
            "a001 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n* CAPABILITY {CAPS_AUTH}\r\na002 OK CAPABILITY completed\r\n"
        ),
        "authenticated",
    )
    .await;
}

#[tokio::test]
async fn login_refusals_carry_design_codes() {
    transcript(
        "a001 LOGIN hong wrong\r\na002 LOGIN lee x\r\n",
        "a001 NO [AUTHENTICATIONFAILED] Wrong password\r\n\
         a002 NO [CONTACTADMIN] Account locked: contact the administrator\r\n",
        "not-authenticated",
    )
    .await;
}

#[tokio::test]
async fn too_many_failed_sign_ins_close_the_connection() {
    transcript(
        "a1 LOGIN hong x\r\na2 LOGIN hong y\r\na3 AUTHENTICATE PLAIN AGhvbmcAeg==\r\na4 NOOP\r\n",
        "a1 NO [AUTHENTICATIONFAILED] Wrong password\r\na2 NO [AUTHENTICATIONFAILED] Wrong password\r\n\
         a3 NO [AUTHENTICATIONFAILED] Wrong password\r\n* BYE Too many failed sign-ins\r\n",
        "logout",
    )
    .await;
}

#[tokio::test]
async fn authenticate_plain_with_and_without_initial_response() {
    // "\0hong\0secret" in base64 is AGhvbmcAc2VjcmV0.
    transcript(
        "a1 AUTHENTICATE PLAIN\r\nAGhvbmcAc2VjcmV0\r\n",
        &format!("+ \r\na1 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n"),
        "authenticated",
    )
    .await;
    transcript(
        "a1 AUTHENTICATE PLAIN AGhvbmcAc2VjcmV0\r\na2 LOGIN hong secret\r\n",
        &format!("a1 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\na2 BAD Already signed in\r\n"),
        "authenticated",
    )
    .await;
}

#[tokio::test]
async fn authenticate_external_with_empty_and_named_authzid() {
    // SASL-IR "=" is an empty initial response (RFC 4959 §3).
    transcript(
        "a1 AUTHENTICATE EXTERNAL =\r\n",
        &format!("a1 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n"),
        "authenticated",
    )
    .await;
    // Thunderbird sends the user name as authzid: "hong@example.kr" is aG9uZ0BleGFtcGxlLmty.
    transcript(
        "a1 AUTHENTICATE EXTERNAL\r\naG9uZ0BleGFtcGxlLmty\r\n",
        &format!("+ \r\na1 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n"),
        "authenticated",
    )
    .await;
    // "kim" is a2lt: bound to another account.
    transcript(
        "a1 AUTHENTICATE EXTERNAL a2lt\r\n",
        "a1 NO [AUTHENTICATIONFAILED] Your certificate is bound to another account\r\n",
        "not-authenticated",
    )
    .await;
}

#[tokio::test]
async fn authenticate_cancel_bad_base64_and_unknown_mechanism() {
    transcript(
        "a1 AUTHENTICATE PLAIN\r\n*\r\na2 AUTHENTICATE PLAIN\r\n!!!\r\na3 AUTHENTICATE CRAM-MD5\r\na4 NOOP\r\n",
        "+ \r\na1 BAD Authentication cancelled\r\n+ \r\na2 BAD Invalid base64 in AUTHENTICATE data\r\n\
         a3 NO Unsupported mechanism: use EXTERNAL or PLAIN\r\na4 OK NOOP completed\r\n",
        "not-authenticated",
    )
    .await;
}

#[tokio::test]
async fn malformed_plain_message_is_bad() {
    // "hong" alone (aG9uZw==) is not [authzid] NUL authcid NUL passwd.
    transcript(
        "a1 AUTHENTICATE PLAIN aG9uZw==\r\n",
        "a1 BAD Malformed SASL message\r\n",
        "not-authenticated",
    )
    .await;
}

#[tokio::test]
async fn rfc2971_id() {
    transcript(
        "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\na024 ID NIL\r\n",
        &format!(
            "* ID (\"name\" \"certmail\" \"version\" \"{v}\")\r\na023 OK ID completed\r\n\
             * ID (\"name\" \"certmail\" \"version\" \"{v}\")\r\na024 OK ID completed\r\n",
            v = env!("CARGO_PKG_VERSION")
        ),
        "not-authenticated",
    )
    .await;
}

#[tokio::test]
async fn enable_condstore_only_when_signed_in() {
    transcript(
        "t0 ENABLE CONDSTORE\r\n",
        "t0 BAD ENABLE is valid only after sign-in and before SELECT\r\n",
        "not-authenticated",
    )
    .await;
    transcript(
        "t0 LOGIN hong secret\r\nt1 ENABLE CONDSTORE X-GOOD-IDEA\r\nt2 ENABLE CONDSTORE\r\n",
        &format!(
            "t0 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n* ENABLED CONDSTORE\r\nt1 OK ENABLE completed\r\n\
             * ENABLED\r\nt2 OK ENABLE completed\r\n"
        ),
        "authenticated",
    )
    .await;
}

#[tokio::test]
async fn enable_imap4rev2_and_our_own_commands_after_sign_in() {
    // RFC 9051 §6.3.1: ENABLE IMAP4rev2 is answered ENABLED once; the commands our own
    // parser reads need sign-in (BAD before) and are then the caller's.
    transcript(
        "t0 LIST (SUBSCRIBED) \"\" *\r\nt1 LOGIN hong secret\r\nt2 ENABLE imap4rev2 CONDSTORE\r\n\
         t3 ENABLE IMAP4rev2\r\nt4 LIST \"\" (INBOX %) RETURN (SPECIAL-USE)\r\n",
        &format!(
            "t0 BAD Sign in first (AUTHENTICATE or LOGIN)\r\nt1 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n\
             * ENABLED imap4rev2 CONDSTORE\r\nt2 OK ENABLE completed\r\n* ENABLED\r\nt3 OK ENABLE completed\r\n\
             t4 NO [UNHANDLED-IN-TEST] LIST\r\n"
        ),
        "authenticated",
    )
    .await;
}

#[tokio::test]
async fn state_rules() {
    for (client, server) in [
        (
            "a1 SELECT INBOX\r\na2 STARTTLS\r\na3 LOGIN hong secret\r\na4 SELECT INBOX\r\na5 NOOP\r\n",
            format!(
                "a1 BAD Sign in first (AUTHENTICATE or LOGIN)\r\na2 BAD TLS is already active\r\n\
                 a3 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\na4 NO [UNHANDLED-IN-TEST] SELECT\r\n\
                 a5 NO [UNHANDLED-IN-TEST] NOOP\r\n"
            ),
        ),
        // IDLE needs sign-in, and is left to the caller after.
        (
            "a1 IDLE\r\na2 LOGIN hong secret\r\na3 IDLE\r\n",
            format!(
                "a1 BAD Sign in first (AUTHENTICATE or LOGIN)\r\na2 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n\
                 [unhandled IdleCommandReceived {{ tag: Tag(\"a3\") }}]"
            ),
        ),
    ] {
        transcript(client, &server, "authenticated").await;
    }
}

#[tokio::test]
async fn bad_commands_are_counted_and_end_the_connection() {
    transcript(
        "a1 FOO\r\nb1\r\nc1 NOOP\n* x\r\na5 FROB\r\na6 NOOP\r\n",
        "a1 BAD Syntax error\r\nb1 BAD Syntax error\r\nc1 BAD Lines must end with CRLF\r\n* BAD Syntax error\r\n\
         a5 BAD Syntax error\r\n* BYE Too many bad commands\r\n",
        "logout",
    )
    .await;
}

#[test]
fn session_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let mut session = new_session();
    let pool = LiteralPool::new(1);
    let mut driver = Driver::new(DriverLimits::for_append_limit(10), pool, "x", true);
    let event = Event::IdleDoneReceived;
    let future = session.handle_event(driver.server(), event);
    assert_send(&future);
}

#[tokio::test]
async fn port_143_from_greeting_through_starttls_to_sign_in() {
    use certmail_imap::proto::plaintext::{PlaintextLimits, PlaintextOutcome, PlaintextPhase};
    // Plaintext: an injected LOGIN rides in the same packet as STARTTLS.
    let mut plaintext = PlaintextPhase::new(PlaintextLimits::default());
    let step = plaintext.feed(b"a1 STARTTLS\r\na2 LOGIN hong secret\r\n");
    assert_eq!(step.output, b"a1 OK Begin TLS negotiation now\r\n");
    assert_eq!(step.outcome, PlaintextOutcome::StartTls);
    drop(plaintext);
    // After the handshake: no greeting, the injected LOGIN never ran, capabilities change.
    let (out, state) = run(&[b"b1 CAPABILITY\r\n", b"b2 LOGIN hong secret\r\n"]).await;
    assert_eq!(
        out,
        format!(
            "* CAPABILITY {CAPS_TLS}\r\nb1 OK CAPABILITY completed\r\nb2 OK [CAPABILITY {CAPS_AUTH}] Signed in\r\n"
        )
    );
    assert_eq!(state, "authenticated");
}
