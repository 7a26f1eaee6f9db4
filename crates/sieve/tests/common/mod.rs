//! Shared helpers for the integration tests: a store double and one-call compile + run.

#![allow(dead_code)]

use std::collections::HashMap;

use certmail_sieve::ast::Location;
use certmail_sieve::{
    Action, Context, Envelope, Environment, Error, Limits, Message, Outcome, Timestamp, compile,
    run,
};

/// A store double: a set of mailboxes and a map of scripts.
#[derive(Default)]
pub struct Store {
    pub mailboxes: Vec<String>,
    pub scripts: HashMap<(Location, String), String>,
}

impl Environment for Store {
    fn mailbox_exists(&self, name: &str) -> bool {
        self.mailboxes.iter().any(|m| m == name)
    }

    fn script(&self, name: &str, location: Location) -> Option<String> {
        self.scripts.get(&(location, name.to_owned())).cloned()
    }
}

impl Store {
    pub fn with_script(mut self, name: &str, text: &str) -> Self {
        self.scripts
            .insert((Location::Personal, name.to_owned()), text.to_owned());
        self
    }

    pub fn with_global(mut self, name: &str, text: &str) -> Self {
        self.scripts
            .insert((Location::Global, name.to_owned()), text.to_owned());
        self
    }
}

/// 2026-12-06T12:00:00+09:00 (a Sunday).
pub fn now() -> Timestamp {
    Timestamp::from_civil((2026, 12, 6), (12, 0, 0), 540)
}

pub fn context(from: &str, to: &str) -> Context {
    Context {
        envelope: Envelope {
            from: from.into(),
            to: to.into(),
        },
        now: now(),
        user_addresses: vec![to.into()],
        script_name: Some("main".into()),
    }
}

/// Compiles and runs with default limits, the envelope taken from the message's From/To.
pub fn eval_with(
    script: &str,
    message: &str,
    store: &Store,
    limits: &Limits,
) -> Result<Outcome, Error> {
    let compiled = compile(script, limits)?;
    let message = Message::parse(
        message
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .as_bytes(),
    );
    let from = first_address(&message, "from").unwrap_or_default();
    let to = first_address(&message, "to").unwrap_or_else(|| "me@example.com".into());
    run(&compiled, &message, &context(&from, &to), store, limits)
}

pub fn eval(script: &str, message: &str) -> Result<Outcome, Error> {
    eval_with(script, message, &Store::default(), &Limits::default())
}

fn first_address(message: &Message, header: &str) -> Option<String> {
    let raw = &message.header(header).next()?.raw;
    let start = raw.find('<').map_or(0, |i| i + 1);
    let end = raw[start..].find('>').map_or(raw.len(), |i| start + i);
    Some(raw[start..end].trim().to_owned())
}

/// A short description of each action, for compact assertions.
pub fn summary(outcome: &Outcome) -> Vec<String> {
    outcome
        .actions
        .iter()
        .map(|a| match a {
            Action::Keep { flags, implicit } => {
                let kind = if *implicit { "implicit-keep" } else { "keep" };
                if flags.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind} {}", flags.join(" "))
                }
            }
            Action::FileInto {
                mailbox,
                flags,
                copy,
                create,
            } => {
                let mut s = format!("fileinto {mailbox}");
                if !flags.is_empty() {
                    s += &format!(" [{}]", flags.join(" "));
                }
                if *copy {
                    s += " :copy";
                }
                if *create {
                    s += " :create";
                }
                s
            }
            Action::Redirect { address, copy } => {
                format!("redirect {address}{}", if *copy { " :copy" } else { "" })
            }
            Action::Reject { reason, extended } => {
                format!("{} {reason}", if *extended { "ereject" } else { "reject" })
            }
            Action::Discard => "discard".into(),
            Action::Vacation(v) => format!("vacation to {} subject {:?}", v.to, v.subject),
        })
        .collect()
}

/// Runs and summarises, panicking with the error text if the run fails.
pub fn actions(script: &str, message: &str) -> Vec<String> {
    match eval(script, message) {
        Ok(outcome) => summary(&outcome),
        Err(e) => panic!("script failed: {e}"),
    }
}

/// Runs for a given user (envelope recipient and own address), whatever the To header says.
pub fn eval_for(script: &str, message: &str, user: &str) -> Result<Outcome, Error> {
    let limits = Limits::default();
    let compiled = compile(script, &limits)?;
    let message = Message::parse(message.replace('\n', "\r\n").as_bytes());
    let from = first_address(&message, "from").unwrap_or_default();
    run(
        &compiled,
        &message,
        &context(&from, user),
        &Store::default(),
        &limits,
    )
}
