//! rspamd's `/checkv2` answer as a [`SpamVerdict`], and the `X-Spam-*` header fields it
//! becomes. Pure: no I/O.

use serde::Deserialize;

/// What rspamd says to do with a message (its "action").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpamAction {
    /// `no action`: deliver.
    Deliver,
    /// `greylist`: ask the sender to retry later.
    Greylist,
    /// `add header`: deliver, marked as spam.
    AddHeader,
    /// `rewrite subject`: deliver, marked as spam; rspamd's new subject when it gave one.
    RewriteSubject(Option<String>),
    /// `soft reject`: refuse for now (451).
    SoftReject,
    /// `reject`: refuse (550).
    Reject,
}

/// The outcome of one scan.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamVerdict {
    /// The action.
    pub action: SpamAction,
    /// The message's score.
    pub score: f64,
    /// The score at which rspamd rejects.
    pub required_score: f64,
    /// The text rspamd wants the sender to read (`messages.smtp_message`), if any.
    pub smtp_message: Option<String>,
    /// The names of the symbols that matched, sorted.
    pub symbols: Vec<String>,
}

#[derive(Deserialize)]
struct CheckAnswer {
    action: String,
    #[serde(default)]
    score: f64,
    #[serde(default)]
    required_score: f64,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    messages: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    symbols: std::collections::BTreeMap<String, serde_json::Value>,
}

impl SpamVerdict {
    /// Reads a `/checkv2` answer; the error says what was wrong with it.
    pub fn from_json(body: &[u8]) -> Result<SpamVerdict, String> {
        let answer: CheckAnswer =
            serde_json::from_slice(body).map_err(|e| format!("not a /checkv2 answer: {e}"))?;
        let action = match answer.action.as_str() {
            "no action" => SpamAction::Deliver,
            "greylist" => SpamAction::Greylist,
            "add header" => SpamAction::AddHeader,
            "rewrite subject" => SpamAction::RewriteSubject(answer.subject),
            "soft reject" => SpamAction::SoftReject,
            "reject" => SpamAction::Reject,
            other => return Err(format!("unknown action `{other}`")),
        };
        let smtp_message = answer
            .messages
            .get("smtp_message")
            .and_then(|m| m.as_str())
            .map(printable);
        Ok(SpamVerdict {
            action,
            score: answer.score,
            required_score: answer.required_score,
            smtp_message,
            symbols: answer.symbols.into_keys().collect(),
        })
    }

    /// Whether the message is spam by rspamd's judgement (it goes to Junk).
    pub fn is_spam(&self) -> bool {
        matches!(
            self.action,
            SpamAction::AddHeader | SpamAction::RewriteSubject(_)
        )
    }

    /// The `X-Spam-*` header fields recording this verdict, CRLF-terminated.
    pub fn header_fields(&self) -> String {
        let flag = if self.is_spam() { "Yes" } else { "No" };
        let action = match &self.action {
            SpamAction::Deliver => "no action",
            SpamAction::Greylist => "greylist",
            SpamAction::AddHeader => "add header",
            SpamAction::RewriteSubject(_) => "rewrite subject",
            SpamAction::SoftReject => "soft reject",
            SpamAction::Reject => "reject",
        };
        let mut out = format!(
            "X-Spam-Flag: {}\r\nX-Spam-Score: {:.2}\r\nX-Spam-Status: {flag}, score={:.2} required={:.2}\r\nX-Spam-Action: {action}\r\n",
            flag.to_ascii_uppercase(),
            self.score,
            self.score,
            self.required_score,
        );
        if !self.symbols.is_empty() {
            let symbols: Vec<String> = self.symbols.iter().map(|s| printable(s)).collect();
            out.push_str(&format!("X-Spam-Symbols: {}\r\n", symbols.join(",\r\n\t")));
        }
        out
    }
}

/// The header field written when rspamd did not answer and the message is accepted anyway
/// (`fail_open`).
pub fn unscanned_header_field(reason: &str) -> String {
    format!(
        "X-Spam-Status: Unknown, not scanned ({})\r\n",
        printable(reason)
    )
}

/// `text` with control characters (CR, LF and the rest) replaced by spaces, so nothing
/// rspamd or a peer says can start a header field or an SMTP reply line of its own.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether a header line starts an `X-Spam` or `X-Spam-*` field: such fields arriving from
/// outside are someone else's claims, removed before ours are added.
pub fn is_spam_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = &line[..colon];
    name.eq_ignore_ascii_case(b"X-Spam")
        || name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"X-Spam-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_action_of_a_checkv2_answer() {
        let reject = br#"{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject","symbols":{"GTUBE":{"name":"GTUBE","score":0.0}},"messages":{"smtp_message":"Gtube pattern"}}"#;
        let v = SpamVerdict::from_json(reject).expect("answer");
        assert_eq!(v.action, SpamAction::Reject);
        assert_eq!(v.smtp_message.as_deref(), Some("Gtube pattern"));
        assert_eq!(v.symbols, ["GTUBE"]);
        for (name, action) in [
            ("no action", SpamAction::Deliver),
            ("greylist", SpamAction::Greylist),
            ("soft reject", SpamAction::SoftReject),
            ("add header", SpamAction::AddHeader),
        ] {
            let json = format!(r#"{{"action":"{name}","score":1.5,"required_score":15}}"#);
            assert_eq!(
                SpamVerdict::from_json(json.as_bytes())
                    .expect("answer")
                    .action,
                action
            );
        }
        let rewrite = r#"{"action":"rewrite subject","score":7,"required_score":15,"subject":"*** SPAM *** 홍길동"}"#;
        let v = SpamVerdict::from_json(rewrite.as_bytes()).expect("answer");
        assert_eq!(
            v.action,
            SpamAction::RewriteSubject(Some("*** SPAM *** 홍길동".into()))
        );
        assert!(v.is_spam());
        assert!(SpamVerdict::from_json(br#"{"action":"explode"}"#).is_err());
        assert!(SpamVerdict::from_json(b"<html>").is_err());
    }

    #[test]
    fn header_fields_carry_the_score_and_cannot_be_split() {
        let v = SpamVerdict {
            action: SpamAction::AddHeader,
            score: 6.0,
            required_score: 15.0,
            smtp_message: None,
            symbols: vec!["GTUBE".into(), "EVIL\r\nBcc: x@y.kr".into()],
        };
        let h = v.header_fields();
        assert!(
            h.starts_with("X-Spam-Flag: YES\r\nX-Spam-Score: 6.00\r\n"),
            "{h}"
        );
        assert!(
            h.contains("X-Spam-Status: Yes, score=6.00 required=15.00\r\n"),
            "{h}"
        );
        assert!(h.contains("X-Spam-Action: add header\r\n"), "{h}");
        assert!(!h.contains("\r\nBcc"), "{h}");
        assert!(unscanned_header_field("down\r\nX: y").starts_with("X-Spam-Status: Unknown"));
        assert!(!unscanned_header_field("down\r\nX: y").contains("\r\nX:"));
    }

    #[test]
    fn spam_fields_are_recognised_by_name_only() {
        assert!(is_spam_field(b"X-Spam-Flag: YES\r\n"));
        assert!(is_spam_field(b"x-spam: yes\r\n"));
        assert!(!is_spam_field(b"X-Spamming-Is-Bad: no\r\n"));
        assert!(!is_spam_field(b"Subject: X-Spam-Flag: YES\r\n"));
    }
}
