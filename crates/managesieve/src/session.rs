//! One connection's state and its answers: the store-free commands, STARTTLS and sign-in
//! here, the script commands in [`crate::scripts`]. The driver (`server`) feeds it one
//! frame at a time and writes what it returns.

use std::net::IpAddr;
use std::sync::Arc;

use crate::ManageSieveContext;
use crate::proto::{
    Code, Command, Frame, Response, SaslResponse, Status, Token, parse, parse_sasl_response,
    response,
};
use crate::signin::SignedIn;

/// Where the connection is (RFC 5804 §1.5's states, with AUTHENTICATE's exchange apart).
#[derive(Debug)]
pub(crate) enum State {
    /// Before sign-in.
    NotAuthenticated,
    /// AUTHENTICATE "PLAIN" sent without an initial response: the client's string is next.
    AwaitingPlain,
    /// Signed in.
    Authenticated(SignedIn),
}

/// What the driver does after a frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Write the bytes and read on.
    Reply(Vec<u8>),
    /// Write the bytes, then start the TLS handshake.
    StartTls(Vec<u8>),
    /// Write the bytes, then close.
    Close(Vec<u8>),
}

/// The connection's state and what it knows of its peer.
pub(crate) struct Session {
    pub(crate) ctx: Arc<ManageSieveContext>,
    pub(crate) state: State,
    /// The TLS client certificate (DER) once TLS is up: `Some(None)` for TLS without one.
    pub(crate) tls: Option<Option<Vec<u8>>>,
    pub(crate) ip: IpAddr,
    /// The trust store and CRLs in force when the connection was accepted.
    pki: Arc<certmail_pki::Pki>,
    bad_commands: u32,
}

impl Session {
    /// A new connection from `ip`, before TLS.
    pub(crate) fn new(
        ctx: Arc<ManageSieveContext>,
        ip: IpAddr,
        pki: Arc<certmail_pki::Pki>,
    ) -> Self {
        Self {
            ctx,
            state: State::NotAuthenticated,
            tls: None,
            ip,
            pki,
            bad_commands: 0,
        }
    }

    /// The signed-in account, if any.
    pub(crate) fn signed_in(&self) -> Option<&SignedIn> {
        match &self.state {
            State::Authenticated(s) => Some(s),
            _ => None,
        }
    }

    /// The greeting (RFC 5804 §1.7): the capabilities and OK.
    pub(crate) fn greeting(&self) -> Vec<u8> {
        let mut out = self.capabilities();
        Response::ok(format!("{} ManageSieve ready", self.ctx.settings.hostname)).encode(&mut out);
        out
    }

    /// The capability lines (RFC 5804 §1.7): SASL only over TLS, STARTTLS only before it.
    fn capabilities(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let line = |out: &mut Vec<u8>, name: &str, value: &str| {
            response::data_line(out, &[name.as_bytes(), value.as_bytes()], "");
        };
        line(&mut out, "IMPLEMENTATION", "certmail");
        let sasl = if self.tls.is_some() { "PLAIN" } else { "" };
        line(&mut out, "SASL", sasl);
        line(&mut out, "SIEVE", &certmail_sieve::EXTENSIONS.join(" "));
        if self.tls.is_none() {
            response::data_line(&mut out, &[b"STARTTLS"], "");
        }
        let redirects = self.ctx.settings.limits.max_redirects.to_string();
        line(&mut out, "MAXREDIRECTS", &redirects);
        if let Some(signed) = self.signed_in() {
            line(&mut out, "OWNER", &signed.account);
        }
        response::data_line(&mut out, &[b"UNAUTHENTICATE"], "");
        line(&mut out, "VERSION", "1.0");
        out
    }

    /// Handles one frame of input.
    pub(crate) async fn frame(&mut self, frame: Frame) -> Next {
        // Whatever comes after an empty challenge answers it (or ends the exchange).
        let awaiting_plain = matches!(self.state, State::AwaitingPlain);
        if awaiting_plain {
            self.state = State::NotAuthenticated;
        }
        let tokens = match frame {
            Frame::Tokens(tokens) => tokens,
            Frame::Bad(why) => return self.bad(&why),
            Frame::LiteralTooLarge { size, max } => {
                let text = format!(
                    "The literal of {size} bytes is larger than the {max} bytes allowed{}",
                    if self.signed_in().is_some() {
                        " for a script ([sieve] max_script_size)"
                    } else {
                        " before sign-in"
                    }
                );
                return Next::Reply(Response::no_code(Code::QuotaMaxSize, text).to_bytes());
            }
            Frame::LineTooLong { max } => {
                let text = format!("Command line longer than {max} bytes; closing");
                return Next::Close(Response::bye(text).to_bytes());
            }
        };
        if awaiting_plain {
            return self.sasl_response(tokens).await;
        }
        match parse(tokens) {
            Ok(command) => self.command(command).await,
            Err(why) => self.bad(&why),
        }
    }

    fn bad(&mut self, why: &str) -> Next {
        self.bad_commands += 1;
        if self.bad_commands > self.ctx.settings.max_bad_commands {
            let text = "Too many bad commands; closing";
            return Next::Close(Response::bye(text).to_bytes());
        }
        Next::Reply(Response::no(format!("Bad command: {why}")).to_bytes())
    }

    async fn command(&mut self, command: Command) -> Next {
        match command {
            Command::Capability => {
                let mut out = self.capabilities();
                Response::ok("").encode(&mut out);
                Next::Reply(out)
            }
            Command::Noop { tag } => {
                let code = tag.map(Code::Tag);
                Next::Reply(Response::new(Status::Ok, code, "Done").to_bytes())
            }
            Command::Logout => Next::Close(Response::ok("Logout completed").to_bytes()),
            Command::StartTls => self.starttls(),
            Command::Authenticate { mechanism, initial } => {
                self.authenticate(&mechanism, initial).await
            }
            Command::Unauthenticate => self.unauthenticate(),
            command => match &self.state {
                State::Authenticated(signed) => {
                    let out = crate::scripts::run(&self.ctx, signed, self.ip, command).await;
                    Next::Reply(out)
                }
                _ => Next::Reply(
                    Response::no("Sign in first (STARTTLS, then AUTHENTICATE \"PLAIN\")")
                        .to_bytes(),
                ),
            },
        }
    }

    fn starttls(&mut self) -> Next {
        if self.tls.is_some() {
            return Next::Reply(Response::no("TLS is already on").to_bytes());
        }
        Next::StartTls(Response::ok("Begin TLS negotiation now").to_bytes())
    }

    /// After the TLS handshake (RFC 5804 §2.2): the capabilities again, without STARTTLS.
    pub(crate) fn tls_started(&mut self, cert: Option<Vec<u8>>) -> Vec<u8> {
        self.tls = Some(cert);
        let mut out = self.capabilities();
        Response::ok("TLS is on").encode(&mut out);
        out
    }

    async fn authenticate(&mut self, mechanism: &str, initial: Option<Vec<u8>>) -> Next {
        if self.signed_in().is_some() {
            return Next::Reply(Response::no("Already signed in").to_bytes());
        }
        if self.tls.is_none() {
            let text = "Sign-in needs TLS with your certificate: send STARTTLS first";
            return Next::Reply(Response::no_code(Code::EncryptNeeded, text).to_bytes());
        }
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            let text = format!("SASL {mechanism} is not offered; sign in with PLAIN");
            return Next::Reply(Response::no(text).to_bytes());
        }
        match initial {
            Some(message) => self.sign_in(&message).await,
            None => {
                // RFC 5804 §2.1: an empty challenge asks for the PLAIN message.
                self.state = State::AwaitingPlain;
                let mut out = Vec::new();
                response::string(&mut out, b"");
                out.extend_from_slice(b"\r\n");
                Next::Reply(out)
            }
        }
    }

    async fn sasl_response(&mut self, tokens: Vec<Token>) -> Next {
        match parse_sasl_response(tokens) {
            Ok(SaslResponse::Data(message)) => self.sign_in(&message).await,
            Ok(SaslResponse::Cancel) => Next::Reply(Response::no("Sign-in cancelled").to_bytes()),
            Err(why) => self.bad(&why),
        }
    }

    async fn sign_in(&mut self, message: &[u8]) -> Next {
        let cert = self.tls.as_ref().and_then(|c| c.as_deref());
        match crate::signin::plain(&self.ctx, &self.pki, cert, self.ip, message).await {
            Ok(signed) => {
                self.state = State::Authenticated(signed);
                Next::Reply(Response::ok("Signed in").to_bytes())
            }
            Err(refusal) => Next::Reply(refusal.to_bytes()),
        }
    }

    fn unauthenticate(&mut self) -> Next {
        match self.state {
            State::Authenticated(_) => {
                self.state = State::NotAuthenticated;
                Next::Reply(Response::ok("Signed out; sign in again to go on").to_bytes())
            }
            _ => Next::Reply(Response::no("Not signed in").to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(next: Next) -> String {
        match next {
            Next::Reply(b) | Next::StartTls(b) | Next::Close(b) => {
                String::from_utf8_lossy(&b).into_owned()
            }
        }
    }

    fn command(line: &str) -> Frame {
        let mut framer = crate::proto::Framer::new(crate::proto::FrameLimits {
            max_line: 1024,
            max_literal: 1024,
        });
        framer.feed(line.as_bytes());
        framer.next_frame().expect("a whole line")
    }

    #[tokio::test]
    async fn sign_in_waits_for_tls_and_a_client_that_speaks_no_managesieve_is_closed()
    -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let ctx = Arc::new(crate::testing::context(dir.path(), Default::default())?);
        let pki = crate::testing::pki(dir.path())?;
        let mut s = Session::new(ctx, std::net::Ipv4Addr::LOCALHOST.into(), pki);
        let clear = text(s.frame(command("AUTHENTICATE \"PLAIN\"\r\n")).await);
        assert!(clear.starts_with("NO (ENCRYPT-NEEDED)"), "{clear}");
        s.tls_started(None);
        let challenge = s.frame(command("AUTHENTICATE \"PLAIN\"\r\n")).await;
        assert_eq!(text(challenge), "\"\"\r\n");
        // A bad answer ends the exchange: the next line is a command again.
        let bad = text(s.frame(Frame::Bad("not a string".into())).await);
        assert!(bad.starts_with("NO \"Bad command: not a string"), "{bad}");
        assert_eq!(text(s.frame(command("NOOP\r\n")).await), "OK \"Done\"\r\n");
        for _ in 1..10 {
            let next = s.frame(command("FROB\r\n")).await;
            assert!(matches!(next, Next::Reply(_)));
        }
        let last = s.frame(command("FROB\r\n")).await;
        assert_eq!(
            last,
            Next::Close(b"BYE \"Too many bad commands; closing\"\r\n".to_vec())
        );
        Ok(())
    }
}
