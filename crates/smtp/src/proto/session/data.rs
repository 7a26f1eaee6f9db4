//! Message bodies: DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030), streamed out as
//! [`Action::MessageChunk`]s with the size limit enforced while reading.

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver, DummyDataReceiver};

use super::command::too_big;
use super::{Action, Body, Decision, Phase, Session};
use crate::proto::reply::Reply;

/// Receiving DATA content.
pub(crate) struct DataIn {
    receiver: DataReceiver,
    /// Unstuffed octets not handed out yet. Its last octet is always kept back: at the
    /// terminator smtp-proto pops the CR it already pushed, and a CR handed out before a
    /// chunk boundary between `.\r` and `\n` would be left in the message (notes/crates.md).
    pending: Vec<u8>,
    /// Octets handed out as chunks so far.
    delivered: usize,
    /// Set once the message is over the limit: the rest is read up to the terminator and
    /// thrown away, so framing is kept (STYLE.md rule 4).
    discard: Option<DummyDataReceiver>,
}

/// Receiving one BDAT chunk.
pub(crate) struct BdatIn {
    size: usize,
    last: bool,
    mode: BdatMode,
}

/// Whether the chunk's octets are kept or read and thrown away.
enum BdatMode {
    Accept(BdatReceiver),
    Refuse {
        discard: DummyDataReceiver,
        reply: Reply,
        counts_as_error: bool,
    },
}

fn no_valid_recipients() -> Reply {
    // RFC 5321 §3.3: 554 when no recipient was accepted.
    Reply::new(554, (5, 5, 1), "No valid recipients")
}

impl Session {
    /// DATA: `354`, then read the content.
    pub(super) fn data(&mut self) {
        let Some(transaction) = self.transaction.as_ref() else {
            return self.client_error(Reply::new(503, (5, 5, 1), "Need MAIL before DATA"));
        };
        if transaction.body != Body::NotStarted {
            return self.client_error(Reply::new(503, (5, 5, 1), "DATA is not allowed after BDAT"));
        }
        if transaction.rcpts.is_empty() {
            return self.client_error(no_valid_recipients());
        }
        self.reply(Reply::plain(
            354,
            "Start mail input; end with <CRLF>.<CRLF>",
        ));
        // smtp-proto 0.2.5 misses a `.` on the first line unless the receiver has seen the
        // CRLF that ended the DATA command: prime it with one (DESIGN.md).
        let mut receiver = DataReceiver::new();
        let mut primed = Vec::new();
        receiver.ingest(&mut b"\r\n".iter(), &mut primed);
        self.phase = Phase::Data(Box::new(DataIn {
            receiver,
            pending: Vec::new(),
            delivered: 0,
            discard: None,
        }));
        self.emit(Action::MessageStart);
    }

    /// Reads buffered DATA content.
    pub(super) fn step_data(&mut self) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let max = self.config.max_message_size;
        let Phase::Data(data) = &mut self.phase else {
            return false;
        };
        let mut rest = self.input.iter();
        let was_discarding = data.discard.is_some();
        let done = match data.discard.as_mut() {
            Some(discard) => discard.ingest(&mut rest),
            None => data.receiver.ingest(&mut rest, &mut data.pending),
        };
        let consumed = self.input.len() - rest.as_slice().len();
        let mut chunk = Vec::new();
        if !was_discarding {
            if data.delivered + data.pending.len() > max {
                data.discard = Some(DummyDataReceiver::new_data(&data.receiver));
                data.pending = Vec::new();
            } else if done {
                chunk = std::mem::take(&mut data.pending);
            } else if data.pending.len() > 1 {
                let keep = data.pending.split_off(data.pending.len() - 1);
                chunk = std::mem::replace(&mut data.pending, keep);
            }
            data.delivered += chunk.len();
        }
        let over_limit = data.discard.is_some();
        self.input.drain(..consumed);

        if over_limit && !was_discarding {
            self.emit(Action::MessageAborted);
        }
        if !chunk.is_empty() {
            self.emit(Action::MessageChunk(chunk));
        }
        if done {
            if over_limit {
                // Framing kept: the refusal comes after the terminator (RFC 1870 §6.3).
                self.phase = Phase::Command;
                self.transaction = None;
                self.reply(too_big());
            } else {
                self.complete_message();
            }
        }
        true
    }

    /// Hands the envelope to the driver and waits for the final reply.
    fn complete_message(&mut self) {
        match self.transaction.take() {
            Some(transaction) => {
                let envelope = transaction.into_envelope();
                self.wait_for(Decision::Message, Action::MessageComplete(envelope));
            }
            None => self.phase = Phase::Command,
        }
    }

    /// BDAT (RFC 3030 §2): the chunk's octets are always read, even when it is refused.
    pub(super) fn bdat(&mut self, size: usize, last: bool) {
        let max = self.config.max_message_size;
        let started = matches!(
            self.transaction.as_ref().map(|t| t.body),
            Some(Body::Bdat { .. })
        );
        let refusal = match self.transaction.as_mut() {
            None => Some((Reply::new(503, (5, 5, 1), "Need MAIL before BDAT"), true)),
            Some(transaction) if transaction.rcpts.is_empty() => {
                Some((no_valid_recipients(), true))
            }
            Some(transaction) => match transaction.body {
                Body::BdatFailed => Some((
                    Reply::new(503, (5, 5, 1), "An earlier BDAT failed; send RSET"),
                    false,
                )),
                Body::NotStarted | Body::Bdat { .. } => {
                    let received = match transaction.body {
                        Body::Bdat { received } => received,
                        _ => 0,
                    };
                    if received.saturating_add(size) > max {
                        transaction.body = Body::BdatFailed;
                        Some((too_big(), true))
                    } else {
                        None
                    }
                }
            },
        };
        let mode = match refusal {
            Some((reply, counts_as_error)) => {
                if started {
                    // Chunks were streamed already: the driver drops its spool.
                    self.emit(Action::MessageAborted);
                }
                BdatMode::Refuse {
                    discard: DummyDataReceiver::new_bdat(size),
                    reply,
                    counts_as_error,
                }
            }
            None => BdatMode::Accept(BdatReceiver::new(size, last)),
        };
        self.start_bdat_chunk(size, last, mode);
    }

    /// Opens the body on the first accepted chunk, then reads the chunk.
    fn start_bdat_chunk(&mut self, size: usize, last: bool, mode: BdatMode) {
        if let (BdatMode::Accept(_), Some(transaction)) = (&mode, self.transaction.as_mut()) {
            let received = match transaction.body {
                Body::Bdat { received } => received,
                _ => 0,
            };
            let first = transaction.body == Body::NotStarted;
            transaction.body = Body::Bdat {
                received: received + size,
            };
            if first {
                self.emit(Action::MessageStart);
            }
        }
        self.phase = Phase::Bdat(Box::new(BdatIn { size, last, mode }));
        if size == 0 {
            self.finish_bdat_chunk();
        }
    }

    /// Reads buffered BDAT chunk octets.
    pub(super) fn step_bdat(&mut self) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let Phase::Bdat(bdat) = &mut self.phase else {
            return false;
        };
        let mut rest = self.input.iter();
        let mut chunk = Vec::new();
        let done = match &mut bdat.mode {
            BdatMode::Accept(receiver) => receiver.ingest(&mut rest, &mut chunk),
            BdatMode::Refuse { discard, .. } => discard.ingest(&mut rest),
        };
        let consumed = self.input.len() - rest.as_slice().len();
        self.input.drain(..consumed);
        if !chunk.is_empty() {
            self.emit(Action::MessageChunk(chunk));
        }
        if done {
            self.finish_bdat_chunk();
        }
        true
    }

    /// The chunk has been read: reply, or hand the message over after BDAT LAST.
    fn finish_bdat_chunk(&mut self) {
        let Phase::Bdat(bdat) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        match bdat.mode {
            BdatMode::Accept(_) if bdat.last => self.complete_message(),
            BdatMode::Accept(_) => self.reply(Reply::new(
                250,
                (2, 0, 0),
                format!("{} octets received", bdat.size),
            )),
            BdatMode::Refuse {
                reply,
                counts_as_error,
                ..
            } => {
                if bdat.last {
                    // The message ends with LAST, refused or not.
                    self.transaction = None;
                }
                if counts_as_error {
                    self.client_error(reply);
                } else {
                    self.reply(reply);
                }
            }
        }
    }
}
