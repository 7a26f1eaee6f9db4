//! [`Out`]: the responses one command collects, in order, before the connection driver
//! hands them to imap-next (with the lines imap-codec cannot express kept in place).

use imap_codec::imap_types::{
    core::Tag,
    response::{Code, Data, Response, Status},
};

use crate::proto::response::{bad, code, no, ok, status};

/// The responses of one command, in order; the connection hands them to imap-next.
#[derive(Debug, Default)]
pub struct Out {
    /// Untagged data and status responses, then the tagged completion.
    pub responses: Vec<Response<'static>>,
    /// Whole response lines imap-codec cannot express (ESEARCH, extended LIST), each to be
    /// written just before `responses[index]`.
    pub raw: Vec<(usize, Vec<u8>)>,
}

impl Out {
    /// Rewrites the responses for a client that enabled IMAP4rev2 (no RECENT, no
    /// \Recent; see `proto::ext::rev2`), keeping raw lines where they were.
    pub fn apply_imap4rev2(&mut self) {
        let mut kept = Vec::with_capacity(self.responses.len());
        let mut new_index = Vec::with_capacity(self.responses.len() + 1);
        for response in self.responses.drain(..) {
            new_index.push(kept.len());
            if let Some(r) = crate::proto::ext::rev2::for_imap4rev2(response) {
                kept.push(r);
            }
        }
        new_index.push(kept.len());
        for (at, _) in &mut self.raw {
            *at = new_index.get(*at).copied().unwrap_or(kept.len());
        }
        self.responses = kept;
    }

    /// Adds a response line written by hand (with its CRLF).
    pub fn raw_line(&mut self, line: Vec<u8>) {
        self.raw.push((self.responses.len(), line));
    }

    /// The wire bytes of everything up to and including the last raw line, in order; the
    /// responses after it stay in `responses`. Empty when there is no raw line.
    pub fn take_raw_prefix(&mut self) -> Vec<u8> {
        let Some(&(last, _)) = self.raw.last() else {
            return Vec::new();
        };
        let last = last.min(self.responses.len());
        let mut bytes = Vec::new();
        let mut raw = std::mem::take(&mut self.raw).into_iter().peekable();
        for (i, response) in self.responses.drain(..last).enumerate() {
            while let Some((_, line)) = raw.next_if(|(at, _)| *at <= i) {
                bytes.extend(line);
            }
            bytes.extend(crate::proto::response::encode(&response));
        }
        for (_, line) in raw {
            bytes.extend(line);
        }
        bytes
    }

    /// Adds an untagged data response.
    pub fn data(&mut self, data: Data<'static>) {
        self.responses.push(Response::Data(data));
    }

    /// Adds a status response.
    pub fn status(&mut self, status: Status<'static>) {
        self.responses.push(Response::Status(status));
    }

    /// `tag OK [code] text`.
    pub fn ok(&mut self, tag: Tag<'static>, code: Option<Code<'static>>, text: &str) {
        self.status(ok(tag, code, text));
    }

    /// `tag NO [code] text` (the user's request cannot be done).
    pub fn no(&mut self, tag: Tag<'static>, code: Option<Code<'static>>, text: &str) {
        self.status(no(tag, code, text));
    }

    /// `tag NO [CODE] text` with an RFC 5530 code imap-codec has no variant for.
    pub fn no_code(&mut self, tag: Tag<'static>, name: &'static str, text: &str) {
        self.status(no(tag, Some(code(name)), text));
    }

    /// `tag BAD text` (the client sent something invalid).
    pub fn bad(&mut self, tag: Tag<'static>, text: &str) {
        self.status(bad(Some(tag), text));
    }

    /// `* OK [code] text`.
    pub fn untagged_ok(&mut self, code: Option<Code<'static>>, text: &str) {
        self.status(status(
            imap_codec::imap_types::response::StatusKind::Ok,
            None,
            code,
            text,
        ));
    }

    /// `tag NO [SERVERBUG]`-style answer for a failure on our side: the details go to the
    /// log, never to the client.
    pub fn internal(&mut self, tag: Tag<'static>, what: &str, error: &dyn std::fmt::Display) {
        tracing::error!(error = %error, "imap {what} failed");
        self.no_code(
            tag,
            "SERVERBUG",
            "Internal server error; the administrator can find details in the log",
        );
    }
}
