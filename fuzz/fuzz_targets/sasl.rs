//! SASL decoding: the input as an AUTH PLAIN / AUTH LOGIN / AUTH EXTERNAL response on
//! port 587 (SMTP, RFC 4954) and as an IMAP AUTHENTICATE PLAIN / EXTERNAL response
//! (RFC 4959 initial response, or the answer to `+`). The first byte picks how the rest is
//! sent: as the base64 text itself, or base64-encoded (to reach the PLAIN field split).
//! Checks, besides no panic: a PLAIN request names exactly the fields the decoded message
//! holds (`authzid NUL authcid NUL password`, RFC 4616 §2), and nothing is decoded from a
//! response that is not base64.
#![no_main]

use std::future::Future;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use certmail_imap::commands::sign_in::{
    Authenticator, RefusalCode, SignInMechanism, SignInRefusal, SignInRequest,
};
use certmail_imap::fuzzing::ready;
use certmail_imap::proto::{
    driver::{Driver, DriverLimits},
    literal::LiteralPool,
};
use certmail_imap::session::{Flow, Session, SessionConfig};
use certmail_smtp::fuzzing::Driver as SmtpDriver;
use certmail_smtp::proto::{
    AuthRequest, ListenerKind, Session as SmtpSession, SessionConfig as SmtpConfig,
};
use imap_next::{Interrupt, Io, State};
use libfuzzer_sys::fuzz_target;

/// What a recorded request named: mechanism, authzid, username, password.
type Seen = (
    SignInMechanism,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Records every request and refuses it.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Authenticator for Recorder {
    type Account = u8;

    fn sign_in(
        &mut self,
        request: SignInRequest,
    ) -> impl Future<Output = Result<u8, SignInRefusal>> + Send {
        let password = request.password.as_ref().map(|p| p.expose().to_string());
        let seen = (
            request.mechanism,
            request.authzid,
            request.username,
            password,
        );
        self.0.lock().expect("not poisoned").push(seen);
        let refusal = SignInRefusal {
            code: RefusalCode::AuthenticationFailed,
            text: "refused".to_string(),
        };
        async move { Err(refusal) }
    }
}

/// What RFC 4616 §2 says a PLAIN message holds: (authzid, authcid, password) when it has
/// exactly two NULs.
fn plain_fields(message: &[u8]) -> Option<(String, String, String)> {
    let text = std::str::from_utf8(message).ok()?;
    let fields: Vec<&str> = text.split('\0').collect();
    let [authzid, authcid, password] = fields.as_slice() else {
        return None;
    };
    Some((
        authzid.to_string(),
        authcid.to_string(),
        password.to_string(),
    ))
}

fn smtp(response: &str, mechanism: &str, message: Option<&[u8]>) {
    let listener = ListenerKind::Submission { implicit_tls: true };
    let mut session = SmtpSession::new(SmtpConfig::new("mail.example.kr", listener));
    let mut driver = SmtpDriver::new(|| false);
    driver.run(&mut session);
    session.feed(b"EHLO client.example.kr\r\n");
    driver.run(&mut session);
    session.feed(format!("AUTH {mechanism} {response}\r\n").as_bytes());
    driver.run(&mut session);
    if message.is_none() && response != "*" {
        assert!(
            driver.auth_requests.is_empty(),
            "a request decoded from non-base64"
        );
    }
    let Some(fields) = message
        .filter(|_| mechanism == "PLAIN")
        .and_then(plain_fields)
    else {
        return;
    };
    for request in &driver.auth_requests {
        if let AuthRequest::Plain {
            authzid,
            username,
            password,
        } = request
        {
            assert_eq!(authzid.clone().unwrap_or_default(), fields.0);
            assert_eq!(username, &fields.1);
            assert_eq!(password.expose(), fields.2);
        }
    }
}

fn imap(command: &[u8], message: Option<&[u8]>) {
    let pool = LiteralPool::new(1 << 16);
    let mut driver = Driver::new(
        DriverLimits::for_append_limit(4096),
        pool.clone(),
        "fuzz",
        true,
    );
    let recorder = Recorder::default();
    let mut session = Session::new(SessionConfig::default(), recorder.clone());
    let mut fed = false;
    for _ in 0..10_000 {
        match driver.next() {
            Ok(event) => match ready(session.handle_event(driver.server(), event)) {
                Some(Flow::Close) | None => break,
                Some(_) => {}
            },
            Err(Interrupt::Io(Io::Output(_))) => {}
            Err(Interrupt::Io(Io::NeedMoreInput)) if !fed => {
                driver.enqueue_input(command);
                fed = true;
            }
            Err(Interrupt::Io(Io::NeedMoreInput)) => break,
            Err(Interrupt::Error(error)) => {
                if let Flow::Close = session.handle_error(driver.server(), &error) {
                    break;
                }
            }
        }
    }
    drop(session);
    let Some(fields) = message.and_then(plain_fields) else {
        return;
    };
    for (mechanism, authzid, username, password) in recorder.0.lock().expect("not poisoned").iter()
    {
        if *mechanism == SignInMechanism::Plain {
            assert_eq!(authzid.clone().unwrap_or_default(), fields.0);
            assert_eq!(username.as_deref(), Some(fields.1.as_str()));
            assert_eq!(password.as_deref(), Some(fields.2.as_str()));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mechanism = ["PLAIN", "LOGIN", "EXTERNAL"][usize::from(mode % 3)];
    // The response as sent (no whitespace or controls: one word on the command line).
    let response = if (mode / 3) % 2 == 1 {
        STANDARD.encode(rest)
    } else {
        String::from_utf8_lossy(rest)
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect()
    };
    // What it decodes to: base64, `=` being the empty response (RFC 4954 §4).
    let message = if response == "=" {
        Some(Vec::new())
    } else {
        STANDARD.decode(response.as_bytes()).ok()
    };
    smtp(&response, mechanism, message.as_deref());
    let imap_mechanism = if mechanism == "EXTERNAL" {
        "EXTERNAL"
    } else {
        "PLAIN"
    };
    let command = if (mode / 6) % 2 == 0 {
        format!("a1 AUTHENTICATE {imap_mechanism} {response}\r\n")
    } else {
        format!("a1 AUTHENTICATE {imap_mechanism}\r\n{response}\r\n")
    };
    imap(
        command.as_bytes(),
        message.as_deref().filter(|_| imap_mechanism == "PLAIN"),
    );
});
