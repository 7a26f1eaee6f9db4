//! Spam filtering of an accepted message: the inbound driver's side of [`crate::spam`].
//! Runs after the SPF/DKIM/DMARC checks, on the message as it will be stored.

use base64::Engine as _;

use super::state::State;
use crate::message::remove_fields;
use crate::proto::{Envelope, Reply};
use crate::spam::{SpamAction, SpamVerdict, is_spam_field, unscanned_header_field};

/// A scanned message: what to store, and whether it goes to Junk.
pub(super) struct Scanned {
    /// The message with our `X-Spam-*` fields on top (and none from outside).
    pub(super) message: Vec<u8>,
    /// rspamd judged it spam: local copies go to the `\Junk` mailbox.
    pub(super) junk: bool,
}

/// Scans `message` when a filter is configured and applies to this connection (port 25
/// always, submissions with `scan_submissions`). `Err`: the reply refusing it.
pub(super) async fn scan(
    state: &State,
    envelope: &Envelope,
    queue_id: &str,
    message: Vec<u8>,
) -> Result<Scanned, Reply> {
    let Some(rspamd) = state.ctx.spam.as_ref() else {
        return Ok(Scanned {
            message,
            junk: false,
        });
    };
    if state.account.is_some() && !rspamd.settings().scan_submissions {
        return Ok(Scanned {
            message,
            junk: false,
        });
    }
    let message = remove_fields(&message, is_spam_field);
    let rcpts: Vec<String> = envelope.rcpts.iter().map(|r| r.address.clone()).collect();
    let request = crate::spam::ScanRequest {
        mail_from: &envelope.mail_from,
        rcpts: &rcpts,
        client_ip: state.peer.ip(),
        helo: &state.client_name,
        user: state.account.as_ref().map(|a| a.id.as_str()),
        queue_id,
        message: &message,
    };
    match rspamd.check(&request).await {
        Ok(verdict) => act(verdict, &message),
        Err(e) if rspamd.settings().fail_open => {
            tracing::warn!(error = %e, %queue_id, "spam filter unavailable; accepting the message unscanned (fail_open)");
            let field = unscanned_header_field("the spam filter did not answer");
            Ok(Scanned {
                message: prepend(&field, &message),
                junk: false,
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, %queue_id, "spam filter unavailable; asking the sender to retry (fail_open = false)");
            // RFC 3463 4.3.0: a problem on our side; the sender's queue retries.
            Err(Reply::new(
                451,
                (4, 3, 0),
                "The spam filter is not available right now; try again later",
            ))
        }
    }
}

/// What rspamd's verdict does to the message.
fn act(verdict: SpamVerdict, message: &[u8]) -> Result<Scanned, Reply> {
    let said = verdict.smtp_message.clone();
    match &verdict.action {
        SpamAction::Reject => {
            return Err(Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The message was refused as spam: {}",
                    said.as_deref()
                        .unwrap_or("the spam filter's score is too high")
                ),
            ));
        }
        SpamAction::SoftReject | SpamAction::Greylist => {
            return Err(Reply::new(
                451,
                (4, 7, 1),
                format!(
                    "Try again later: {}",
                    said.as_deref()
                        .unwrap_or("the spam filter wants to see this message again later")
                ),
            ));
        }
        _ => {}
    }
    let message = match &verdict.action {
        SpamAction::RewriteSubject(Some(subject)) => with_subject(message, subject),
        _ => message.to_vec(),
    };
    Ok(Scanned {
        message: prepend(&verdict.header_fields(), &message),
        junk: verdict.is_spam(),
    })
}

/// The message with its Subject replaced by `subject` (RFC 2047 encoded when not ASCII).
fn with_subject(message: &[u8], subject: &str) -> Vec<u8> {
    let is_subject = |line: &[u8]| {
        line.get(..8)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"subject:"))
    };
    let clean: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let value = if clean.is_ascii() {
        clean
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(clean.as_bytes());
        format!("=?UTF-8?B?{b64}?=")
    };
    prepend(
        &format!("Subject: {value}\r\n"),
        &remove_fields(message, is_subject),
    )
}

fn prepend(fields: &str, message: &[u8]) -> Vec<u8> {
    crate::mailauth::results::prepend(fields, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(action: SpamAction) -> SpamVerdict {
        SpamVerdict {
            action,
            score: 7.5,
            required_score: 15.0,
            smtp_message: Some("Gtube pattern".into()),
            symbols: vec!["GTUBE".into()],
        }
    }

    #[test]
    fn each_action_is_a_reply_or_a_filing() {
        let message = b"Subject: hi\r\n\r\nbody\r\n";
        let reject = act(verdict(SpamAction::Reject), message)
            .err()
            .expect("refused");
        assert_eq!(
            reject.to_string(),
            "550 5.7.1 The message was refused as spam: Gtube pattern"
        );
        for soft in [SpamAction::SoftReject, SpamAction::Greylist] {
            let reply = act(verdict(soft), message).err().expect("deferred");
            assert!(
                reply.to_string().starts_with("451 4.7.1 Try again later"),
                "{reply}"
            );
        }
        let spam = act(verdict(SpamAction::AddHeader), message).expect("stored");
        assert!(spam.junk);
        assert!(String::from_utf8_lossy(&spam.message).starts_with("X-Spam-Flag: YES\r\n"));
        let ham = act(verdict(SpamAction::Deliver), message).expect("stored");
        assert!(!ham.junk);
        assert!(String::from_utf8_lossy(&ham.message).contains("X-Spam-Score: 7.50\r\n"));
    }

    #[test]
    fn rewrite_subject_replaces_the_subject_encoded() {
        let message = "Subject: 회의\r\n\tcontinued\r\nFrom: a@b.kr\r\n\r\nSubject: body\r\n";
        let action = SpamAction::RewriteSubject(Some("*** SPAM *** 회의".into()));
        let out = act(verdict(action), message.as_bytes()).expect("stored");
        let out = String::from_utf8(out.message).expect("utf-8");
        assert!(out.contains("Subject: =?UTF-8?B?"), "{out}");
        assert!(!out.contains("continued"), "{out}");
        assert!(
            out.ends_with("From: a@b.kr\r\n\r\nSubject: body\r\n"),
            "{out}"
        );
    }
}
