//! [`State`]: what one SMTP connection knows beside its protocol session. The inbound
//! helpers (`decide`, `authenticate`, `deliver`) work on it; the read loop in
//! `connection.rs` owns it.

use std::net::SocketAddr;
use std::sync::Arc;

use certmail_pki::Pki;
use certmail_session::ConnectionGuard;

use super::SmtpContext;
use super::recipients::Target;
use super::spool::Spool;

/// Per-connection state beside the protocol session.
pub(super) struct State {
    pub(super) ctx: Arc<SmtpContext>,
    pub(super) pki: Arc<Pki>,
    pub(super) peer: SocketAddr,
    pub(super) cert: Option<Vec<u8>>,
    pub(super) guard: Option<ConnectionGuard>,
    pub(super) account: Option<certmail_store::Account>,
    pub(super) targets: Vec<Target>,
    pub(super) spool: Spool,
    pub(super) in_message: bool,
    /// The EHLO/HELO name, for the trace header.
    pub(super) client_name: String,
    /// Whether the connection is encrypted now.
    pub(super) tls: bool,
}

impl State {
    /// A fresh connection from `peer`: not signed in, no certificate yet, no message.
    pub(super) fn new(ctx: Arc<SmtpContext>, pki: Arc<Pki>, peer: SocketAddr) -> State {
        let spool = Spool::new(Arc::clone(&ctx.message_memory));
        State {
            ctx,
            pki,
            peer,
            cert: None,
            guard: None,
            account: None,
            targets: Vec::new(),
            spool,
            in_message: false,
            client_name: String::new(),
            tls: false,
        }
    }
}
