//! `NOTIFY` (RFC 5465 §3, §8):
//!
//! ```abnf
//! notify          = "NOTIFY" SP (notify-set / "NONE")
//! notify-set      = "SET" [SP status-indicator] SP event-groups
//! status-indicator = "STATUS"
//! event-groups    = event-group *(SP event-group)
//! event-group     = "(" filter-mailboxes SP ("(" event *(SP event) ")" / "NONE") ")"
//! filter-mailboxes = "selected" / "selected-delayed" / "inboxes" / "personal" /
//!                    "subscribed" / "subtree" SP one-or-more-mailbox /
//!                    "mailboxes" SP one-or-more-mailbox
//! one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
//! event           = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / "MessageExpunge" /
//!                   "FlagChange" / "AnnotationChange" / "MailboxName" /
//!                   "SubscriptionChange" / "MailboxMetadataChange" / "ServerMetadataChange"
//! ```

use super::{Cursor, SyntaxError};

/// A NOTIFY command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyRequest {
    /// `NOTIFY NONE`: no more notifications.
    None,
    /// `NOTIFY SET [STATUS] groups`.
    Set {
        /// Send the watched mailboxes' STATUS at once.
        status: bool,
        /// What to watch where.
        groups: Vec<EventGroup>,
    },
}

/// Which mailboxes a group covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The selected mailbox.
    Selected,
    /// The selected mailbox, with expunges told only where a command allows them.
    SelectedDelayed,
    /// Mailboxes mail is delivered to.
    Inboxes,
    /// Every mailbox of the signed-in user's own.
    Personal,
    /// The subscribed mailboxes.
    Subscribed,
    /// These mailboxes and all below them (names as sent).
    Subtree(Vec<Vec<u8>>),
    /// Exactly these mailboxes (names as sent).
    Mailboxes(Vec<Vec<u8>>),
}

/// The events of a group; all false is `NONE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Events {
    /// MessageNew.
    pub new: bool,
    /// MessageExpunge.
    pub expunge: bool,
    /// FlagChange.
    pub flags: bool,
    /// MailboxName.
    pub names: bool,
    /// SubscriptionChange.
    pub subscriptions: bool,
    /// MessageNew asked for FETCH attributes (not offered).
    pub fetch_attributes: bool,
    /// Events we do not offer (AnnotationChange and the METADATA ones).
    pub unsupported: bool,
}

impl Events {
    /// Any message event (MessageNew, MessageExpunge, FlagChange).
    pub fn any_message(self) -> bool {
        self.new || self.expunge || self.flags
    }
}

/// One `(filter events)` group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    /// The mailboxes.
    pub filter: Filter,
    /// What to tell about them.
    pub events: Events,
}

/// Parses from just after `NOTIFY`.
pub(super) fn parse(c: &mut Cursor<'_>) -> Result<NotifyRequest, SyntaxError> {
    c.sp()?;
    if c.keyword("NONE") {
        c.end()?;
        return Ok(NotifyRequest::None);
    }
    if !c.keyword("SET") {
        return Err(SyntaxError("NOTIFY takes SET or NONE"));
    }
    c.sp()?;
    let status = c.keyword("STATUS");
    if status {
        c.sp()?;
    }
    let mut groups = vec![group(c)?];
    while c.rest() != b"\r\n" {
        c.sp()?;
        groups.push(group(c)?);
    }
    c.end()?;
    Ok(NotifyRequest::Set { status, groups })
}

fn group(c: &mut Cursor<'_>) -> Result<EventGroup, SyntaxError> {
    c.expect(b'(', "an event group starts with (")?;
    let filter = filter(c)?;
    c.sp()?;
    let events = if c.keyword("NONE") {
        Events::default()
    } else {
        let mut events = Events::default();
        c.paren_list(false, |c| event(c, &mut events))?;
        events
    };
    c.expect(b')', "an event group ends with )")?;
    Ok(EventGroup { filter, events })
}

fn filter(c: &mut Cursor<'_>) -> Result<Filter, SyntaxError> {
    // "selected-delayed" before "selected": keyword() wants a whole atom.
    Ok(if c.keyword("selected-delayed") {
        Filter::SelectedDelayed
    } else if c.keyword("selected") {
        Filter::Selected
    } else if c.keyword("inboxes") {
        Filter::Inboxes
    } else if c.keyword("personal") {
        Filter::Personal
    } else if c.keyword("subscribed") {
        Filter::Subscribed
    } else if c.keyword("subtree") {
        c.sp()?;
        Filter::Subtree(mailboxes(c)?)
    } else if c.keyword("mailboxes") {
        c.sp()?;
        Filter::Mailboxes(mailboxes(c)?)
    } else {
        return Err(SyntaxError("unknown NOTIFY filter"));
    })
}

fn mailboxes(c: &mut Cursor<'_>) -> Result<Vec<Vec<u8>>, SyntaxError> {
    if c.at(b'(') {
        c.paren_list(false, |c| c.astring())
    } else {
        Ok(vec![c.astring()?])
    }
}

fn event(c: &mut Cursor<'_>, events: &mut Events) -> Result<(), SyntaxError> {
    if c.keyword("MessageNew") {
        events.new = true;
        let mut ahead = c.clone();
        if ahead.sp().is_ok() && ahead.at(b'(') {
            // FETCH attributes for new messages: read and refused (BADEVENT).
            c.sp()?;
            c.paren_list(false, |c| c.flag_like().map(|_| ()))?;
            events.fetch_attributes = true;
        }
    } else if c.keyword("MessageExpunge") {
        events.expunge = true;
    } else if c.keyword("FlagChange") {
        events.flags = true;
    } else if c.keyword("MailboxName") {
        events.names = true;
    } else if c.keyword("SubscriptionChange") {
        events.subscriptions = true;
    } else if c.keyword("AnnotationChange")
        || c.keyword("MailboxMetadataChange")
        || c.keyword("ServerMetadataChange")
    {
        events.unsupported = true;
    } else {
        return Err(SyntaxError("unknown NOTIFY event"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{ExtBody, parse as parse_command};
    use super::*;

    fn notify(line: &str) -> NotifyRequest {
        match parse_command(line.as_bytes()).map(|c| c.body) {
            Ok(ExtBody::Notify(request)) => request,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn rfc5465_forms() {
        assert_eq!(notify("a NOTIFY NONE\r\n"), NotifyRequest::None);
        let NotifyRequest::Set { status, groups } = notify(
            "a NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) \
             (subtree (INBOX \"공유\") (MailboxName SubscriptionChange)) (personal NONE)\r\n",
        ) else {
            panic!("SET");
        };
        assert!(status);
        assert_eq!(groups[0].filter, Filter::Selected);
        assert!(groups[0].events.new && groups[0].events.expunge && !groups[0].events.flags);
        assert_eq!(
            groups[1].filter,
            Filter::Subtree(vec![b"INBOX".to_vec(), "공유".as_bytes().to_vec()])
        );
        assert!(groups[1].events.names && groups[1].events.subscriptions);
        assert_eq!(groups[2].events, Events::default());
        let NotifyRequest::Set { groups, .. } =
            notify("a NOTIFY SET (selected-delayed (MessageNew (UID FLAGS) AnnotationChange))\r\n")
        else {
            panic!("SET");
        };
        assert_eq!(groups[0].filter, Filter::SelectedDelayed);
        assert!(groups[0].events.fetch_attributes && groups[0].events.unsupported);
        for bad in [
            "a NOTIFY\r\n",
            "a NOTIFY SET\r\n",
            "a NOTIFY SET (nowhere (MessageNew))\r\n",
            "a NOTIFY SET (selected (Bogus))\r\n",
            "a NOTIFY SET (selected ())\r\n",
        ] {
            assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
