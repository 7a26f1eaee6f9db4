//! Fuzzes certmail-imap's protocol side from raw bytes: the MIME views (ENVELOPE,
//! BODYSTRUCTURE, BODY[section]) of the input as a message, SEARCH over it, the port-143
//! plaintext phase, and a whole TLS-side session (driver + session) fed the input as
//! client bytes. Nothing may panic, and every encoded FETCH line must parse back.
#![no_main]

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use certmail_imap::{
    commands::sign_in::{Authenticator, RefusalCode, SignInRefusal, SignInRequest},
    message::{Extensions, MessageView},
    proto::{
        driver::{Driver, DriverLimits},
        literal::LiteralPool,
        plaintext::{PlaintextLimits, PlaintextPhase},
    },
    session::{Flow, Session, SessionConfig},
};
use imap_next::{Interrupt, Io, State, imap_types::fetch::MessageDataItem};
use libfuzzer_sys::fuzz_target;

/// Signs in "fuzz"/"fuzz" only; everything else is refused.
struct FuzzAuthenticator;

impl Authenticator for FuzzAuthenticator {
    type Account = u8;

    fn sign_in(&mut self, request: SignInRequest) -> impl Future<Output = Result<u8, SignInRefusal>> + Send {
        let ok = request.username.as_deref() == Some("fuzz")
            && request.password.as_ref().map(|p| p.expose()) == Some("fuzz");
        let result = if ok {
            Ok(1)
        } else {
            Err(SignInRefusal { code: RefusalCode::AuthenticationFailed, text: "no".to_string() })
        };
        async move { result }
    }
}

/// Our futures are always ready (the authenticator never waits).
fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

fn message_views(data: &[u8]) {
    use imap_codec::{ResponseCodec, decode::Decoder, encode::Encoder, imap_types::response::{Data, Response}};
    let view = MessageView::parse(data);
    for item in [
        MessageDataItem::Envelope(view.envelope()),
        MessageDataItem::BodyStructure(view.body_structure(Extensions::With)),
        MessageDataItem::Body(view.body_structure(Extensions::Without)),
    ] {
        let response = Response::Data(Data::fetch(1, vec![item]).expect("one item"));
        let bytes = ResponseCodec::default().encode(&response).dump();
        let (_, decoded) = ResponseCodec::default().decode(&bytes).expect("our FETCH line parses");
        assert_eq!(decoded, response);
    }
    let _ = view.section(None);
}

fn plaintext(data: &[u8]) {
    let mut phase = PlaintextPhase::new(PlaintextLimits::default());
    let (a, b) = data.split_at(data.len() / 2);
    let _ = phase.feed(a);
    let _ = phase.feed(b);
}

fn session(data: &[u8]) {
    let pool = LiteralPool::new(1 << 20);
    let mut driver = Driver::new(DriverLimits::for_append_limit(64 * 1024), pool.clone(), "fuzz", true);
    let mut session = Session::new(SessionConfig::default(), FuzzAuthenticator);
    let mut fed = false;
    for _ in 0..100_000 {
        match driver.next() {
            Ok(event) => match ready(session.handle_event(driver.server(), event)) {
                Some(Flow::Close) | None => break,
                Some(_) => {}
            },
            Err(Interrupt::Io(Io::Output(_))) => {}
            Err(Interrupt::Io(Io::NeedMoreInput)) if !fed => {
                driver.enqueue_input(data);
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
    drop(driver);
    assert_eq!(pool.in_use(), 0, "a dropped driver returns its literal reservations");
}

fuzz_target!(|data: &[u8]| {
    message_views(data);
    plaintext(data);
    session(data);
});
