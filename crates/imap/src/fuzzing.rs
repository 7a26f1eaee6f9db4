//! What the fuzz targets (`fuzz/`) and the robustness tests (`tests/robustness.rs`,
//! `tests/ext_driver.rs`) share, behind the `fuzzing` feature: a sign-in that never waits,
//! a session run over arbitrary client bytes, the FETCH views of a message checked to
//! encode and parse back, a check that THREAD lists every message once, a reproducible
//! pseudo-random generator, and (in [`crate::server::fuzz_stream`]) a whole store-backed
//! connection over any byte stream.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use imap_next::{Interrupt, Io, State};

use crate::commands::sign_in::{Authenticator, RefusalCode, SignInRefusal, SignInRequest};
use crate::commands::sort::Candidate;
use crate::commands::thread::threads;
use crate::message::mime::{MimePart, PartKind};
use crate::message::{Extensions, MessageView};
use crate::proto::driver::{Driver, DriverLimits};
use crate::proto::literal::LiteralPool;
use crate::session::{Flow, Session, SessionConfig};

/// Signs in one user name, whatever the password; every other name is refused. Its
/// answer is always ready, so a session can be run without a runtime ([`ready`]).
#[derive(Debug, Clone, Copy)]
pub struct OneUser(pub &'static str);

impl Authenticator for OneUser {
    type Account = u8;

    fn sign_in(
        &mut self,
        request: SignInRequest,
    ) -> impl Future<Output = Result<u8, SignInRefusal>> + Send {
        let result = if request.username.as_deref() == Some(self.0) {
            Ok(1)
        } else {
            Err(SignInRefusal {
                code: RefusalCode::AuthenticationFailed,
                text: "Wrong user name or password".to_string(),
            })
        };
        async move { result }
    }
}

/// Polls `future` once: its output when it is ready (sessions with [`OneUser`] always
/// are), `None` when it would wait.
pub fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Runs a TLS-side session (driver + [`Session`] signing in [`OneUser`]) over `input`
/// cut into reads of `chunk` octets, with `append_limit` as the literal limit and a
/// literal pool of `pool_size`. Stops at Close or after 100,000 steps. Panics if a
/// dropped driver leaves literal memory reserved.
pub fn run_session(input: &[u8], chunk: usize, append_limit: u32, pool_size: u64, user: OneUser) {
    let pool = LiteralPool::new(pool_size);
    let limits = DriverLimits::for_append_limit(append_limit);
    let mut driver = Driver::new(limits, pool.clone(), "fuzz", true);
    let mut session = Session::new(SessionConfig::default(), user);
    let mut chunks = input.chunks(chunk.max(1));
    for _ in 0..100_000 {
        match driver.next() {
            Ok(event) => match ready(session.handle_event(driver.server(), event)) {
                Some(Flow::Close) | None => break,
                Some(_) => {}
            },
            Err(Interrupt::Io(Io::Output(_))) => {}
            Err(Interrupt::Io(Io::NeedMoreInput)) => match chunks.next() {
                Some(c) => driver.enqueue_input(c),
                None => break,
            },
            Err(Interrupt::Error(error)) => {
                if let Flow::Close = session.handle_error(driver.server(), &error) {
                    break;
                }
            }
        }
    }
    drop(driver);
    assert_eq!(
        pool.in_use(),
        0,
        "a dropped driver returns its literal reservations"
    );
}

/// How deep a MIME tree's BODYSTRUCTURE imap-codec's decoder always reads: its
/// `body(8)` (`fetch.rs`) is a client-side recursion guard, and each message/rfc822 level
/// costs it two. Our MIME tree goes deeper (its bound is 32), so deeper structures are
/// encoded but cannot be checked by decoding them.
pub const DECODABLE_BODY_DEPTH: usize = 4;

/// The nesting depth of `part`'s MIME tree (a leaf is 1).
pub fn mime_depth(part: &MimePart) -> usize {
    1 + match &part.kind {
        PartKind::Leaf => 0,
        PartKind::Message(inner) => mime_depth(inner),
        PartKind::Multipart(children) => children.iter().map(mime_depth).max().unwrap_or(0),
    }
}

/// The FETCH views of `raw` (ENVELOPE, BODYSTRUCTURE, BODY and `BODY[]`): each encodes as
/// a FETCH line that imap-codec parses back to the same response (BODYSTRUCTURE and BODY
/// when no deeper than [`DECODABLE_BODY_DEPTH`]). Panics otherwise.
pub fn check_message_views(raw: &[u8]) {
    use imap_codec::imap_types::fetch::MessageDataItem;
    use imap_codec::imap_types::response::{Data, Response};
    use imap_codec::{ResponseCodec, decode::Decoder, encode::Encoder};
    let view = MessageView::parse(raw);
    let mut items = vec![MessageDataItem::Envelope(view.envelope())];
    let structures = [
        MessageDataItem::BodyStructure(view.body_structure(Extensions::With)),
        MessageDataItem::Body(view.body_structure(Extensions::Without)),
    ];
    if mime_depth(view.root()) <= DECODABLE_BODY_DEPTH {
        items.extend(structures);
    }
    for item in items {
        let response = Response::Data(Data::fetch(1, vec![item]).expect("one item"));
        let bytes = ResponseCodec::default().encode(&response).dump();
        let (_, decoded) = ResponseCodec::default()
            .decode(&bytes)
            .expect("our FETCH line parses");
        assert_eq!(decoded, response);
    }
    assert_eq!(
        view.section(None).as_deref(),
        Some(raw),
        "BODY[] is the message"
    );
}

/// THREAD over `found` (by REFERENCES or ORDEREDSUBJECT) names every message exactly once.
/// Panics with the threads otherwise; `context` says which round.
pub fn check_threads_once_each(found: &[Candidate], references: bool, context: &str) {
    let text: String = threads(found, references, false)
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut seen: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    seen.sort_unstable();
    let mut all: Vec<u32> = found.iter().map(|c| c.seq).collect();
    all.sort_unstable();
    assert_eq!(seen, all, "{context}, references {references}: {text}");
}

/// xorshift64: reproducible pseudo-random input without a dependency.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 pseudo-random bits.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
