//! The envelope of one mail transaction: reverse-path, MAIL parameters and recipients,
//! with the DSN parameters (RFC 3461) kept for the store and for delivery notices.

use smtp_proto::{
    MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_RET_FULL, MAIL_RET_HDRS, MAIL_SMTPUTF8,
    RCPT_NOTIFY_DELAY, RCPT_NOTIFY_FAILURE, RCPT_NOTIFY_NEVER, RCPT_NOTIFY_SUCCESS,
};

/// The BODY parameter of MAIL (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
}

/// The DSN RET parameter of MAIL (RFC 3461 §4.3): what a failure notice returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnReturn {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

/// The parameters given with MAIL FROM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=` (RFC 1870), the client's estimate in octets.
    pub size: Option<usize>,
    /// `BODY=` (RFC 6152).
    pub body: Option<BodyType>,
    /// `SMTPUTF8` was given (RFC 6531).
    pub smtputf8: bool,
    /// `RET=` (RFC 3461).
    pub ret: Option<DsnReturn>,
    /// `ENVID=` (RFC 3461), as given.
    pub envid: Option<String>,
    /// `REQUIRETLS` (RFC 8689): relay only over verified TLS.
    pub requiretls: bool,
}

impl MailParams {
    pub(crate) fn from_parsed(from: &smtp_proto::MailFrom<String>) -> Self {
        let body = if from.flags & MAIL_BODY_8BITMIME != 0 {
            Some(BodyType::EightBitMime)
        } else if from.flags & MAIL_BODY_7BIT != 0 {
            Some(BodyType::SevenBit)
        } else {
            None
        };
        let ret = if from.flags & MAIL_RET_FULL != 0 {
            Some(DsnReturn::Full)
        } else if from.flags & MAIL_RET_HDRS != 0 {
            Some(DsnReturn::Headers)
        } else {
            None
        };
        Self {
            size: (from.size > 0).then_some(from.size),
            body,
            smtputf8: from.flags & MAIL_SMTPUTF8 != 0,
            ret,
            envid: from.env_id.clone(),
            requiretls: from.flags & smtp_proto::MAIL_REQUIRETLS != 0,
        }
    }
}

/// The DSN NOTIFY parameter of RCPT (RFC 3461 §4.1). All false means "not given": the
/// server then notifies on failure only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notify {
    /// `NOTIFY=SUCCESS`.
    pub success: bool,
    /// `NOTIFY=FAILURE`.
    pub failure: bool,
    /// `NOTIFY=DELAY`.
    pub delay: bool,
    /// `NOTIFY=NEVER`.
    pub never: bool,
}

impl Notify {
    fn from_flags(flags: u64) -> Self {
        Self {
            success: flags & RCPT_NOTIFY_SUCCESS != 0,
            failure: flags & RCPT_NOTIFY_FAILURE != 0,
            delay: flags & RCPT_NOTIFY_DELAY != 0,
            never: flags & RCPT_NOTIFY_NEVER != 0,
        }
    }
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rcpt {
    /// The forward-path address, without angle brackets.
    pub address: String,
    /// `NOTIFY=` (RFC 3461).
    pub notify: Notify,
    /// `ORCPT=` (RFC 3461), as given.
    pub orcpt: Option<String>,
}

impl Rcpt {
    pub(crate) fn from_parsed(to: smtp_proto::RcptTo<String>) -> Self {
        Self {
            notify: Notify::from_flags(to.flags),
            address: to.address,
            orcpt: to.orcpt,
        }
    }
}

/// The envelope handed to the caller with a complete message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path, without angle brackets; empty for a null sender (`MAIL FROM:<>`).
    pub mail_from: String,
    /// The MAIL parameters.
    pub params: MailParams,
    /// The recipients the caller accepted, in the order given.
    pub rcpts: Vec<Rcpt>,
}
