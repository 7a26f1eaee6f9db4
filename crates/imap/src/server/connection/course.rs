//! The command course of a signed-in connection: a command (imap-codec's or our own
//! parser's) runs against the session's signed-in state, and its responses go out (FETCH
//! a batch at a time).

use imap_codec::imap_types::{
    command::{Command, CommandBody},
    core::Tag,
};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{FETCH_BATCH_OCTETS, Flow, LiveConnection};
use crate::commands::dispatch::{Outcome, announce_updates, dispatch};
use crate::commands::fetch::{Batch, FetchJob, FetchOrOther, FetchRequest};
use crate::out::Out;
use crate::proto::ext::ExtCommand;
use crate::proto::response::encode;
use crate::session::Flow as SessionFlow;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> LiveConnection<S> {
    pub(super) async fn on_command(&mut self, command: Command<'static>) -> std::io::Result<Flow> {
        let Some(signed_in) = self.session.signed_in_mut() else {
            return Ok(self.refuse_signed_out(command.tag));
        };
        // The name only: arguments may hold what the user is searching for.
        tracing::debug!(account = %signed_in.account_id(), command = command.body.name(), "imap command");
        let mut out = Out::default();
        let outcome = match FetchRequest::of(command) {
            FetchOrOther::Fetch(fetch) => {
                let uid = fetch.uid;
                let job = FetchJob::start(signed_in, &mut out, fetch).await;
                self.fetch_in_batches(job, &mut out, uid).await?
            }
            FetchOrOther::Other(Command {
                tag,
                body: CommandBody::Compress { algorithm },
            }) => {
                if crate::server::compress::answer(self.io.is_active(), &mut out, tag, &algorithm) {
                    // RFC 4978 §3: the OK goes out uncompressed, then both directions deflate.
                    self.enqueue(out);
                    self.flush_driver().await?;
                    self.io.start();
                    return Ok(Flow::Continue);
                }
                Outcome::Done
            }
            FetchOrOther::Other(Command { tag, body }) => {
                dispatch(signed_in, &mut out, tag, body).await
            }
        };
        self.finish(out, outcome).await
    }

    /// A command our own parser read (crate::proto::ext): the same course as the others.
    pub(super) async fn on_extended(&mut self, command: ExtCommand) -> std::io::Result<Flow> {
        let Some(signed_in) = self.session.signed_in_mut() else {
            return Ok(self.refuse_signed_out(command.tag));
        };
        tracing::debug!(account = %signed_in.account_id(), command = command.body.name(), "imap command");
        let mut out = Out::default();
        let outcome = crate::commands::extended::run(signed_in, &mut out, command).await;
        self.finish(out, outcome).await
    }

    /// The protocol session passes on commands only once signed in: BAD otherwise.
    fn refuse_signed_out(&mut self, tag: Tag<'static>) -> Flow {
        let mut out = Out::default();
        out.bad(tag, "Sign in first (AUTHENTICATE or LOGIN)");
        self.enqueue(out);
        Flow::Continue
    }

    /// Sends a command's responses and decides whether to go on.
    async fn finish(&mut self, out: Out, outcome: Outcome) -> std::io::Result<Flow> {
        self.send(out).await?;
        Ok(match outcome {
            Outcome::Done => Flow::Continue,
            Outcome::Bad => match self.session.count_bad(self.driver.server()) {
                SessionFlow::Close => Flow::Close,
                _ => Flow::Continue,
            },
        })
    }

    /// Answers a FETCH a batch at a time, writing each batch before reading the next
    /// bodies, so memory stays bounded whatever the client asks for. imap-next's queue is
    /// empty while a command runs, so writing directly keeps the responses in order.
    async fn fetch_in_batches(
        &mut self,
        job: Result<FetchJob, Outcome>,
        out: &mut Out,
        uid: bool,
    ) -> std::io::Result<Outcome> {
        let mut job = match job {
            Ok(job) => job,
            Err(Outcome::Bad) => return Ok(Outcome::Bad),
            Err(Outcome::Done) => {
                if let Some(signed_in) = self.session.signed_in_mut() {
                    announce_updates(signed_in, out, uid).await;
                }
                return Ok(Outcome::Done);
            }
        };
        loop {
            let Some(signed_in) = self.session.signed_in_mut() else {
                return Ok(Outcome::Done);
            };
            if job.next_batch(signed_in, out, FETCH_BATCH_OCTETS).await == Batch::Done {
                // RFC 3501 §7.4.1: a UID FETCH may carry EXPUNGEs, a FETCH may not.
                announce_updates(signed_in, out, uid).await;
                return Ok(Outcome::Done);
            }
            signed_in.announce_new_keywords(out);
            if signed_in.enabled.imap4rev2 {
                out.apply_imap4rev2();
            }
            let bytes: Vec<u8> = out.responses.drain(..).flat_map(|r| encode(&r)).collect();
            self.write(&bytes).await?;
        }
    }
}
