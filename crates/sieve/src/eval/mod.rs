//! The evaluator: runs a compiled [`Script`] against a [`Message`] and returns an
//! [`Outcome`]. No IO: the store's answers come through [`Environment`], the clock and
//! envelope through [`Context`].
//!
//! - this file: the machine, commands, actions and the implicit keep (RFC 5228 §2.10.2);
//! - `tests`: tests;
//! - `matching`: comparators and match types;
//! - `variables`: `${…}` expansion, `set` modifiers, flag lists;
//! - `vacation`: resolving a `vacation` into a reply (RFC 5230);
//! - `date`: dates and date parts (RFC 5260).
//!
//! Every command and test costs steps from [`Limits::max_steps`]; every value is bounded
//! by [`Limits::max_variable_bytes`]. A run that hits a bound ends with an error, and the
//! caller keeps the message (RFC 5228 §2.10.6).

pub(crate) mod date;
pub(crate) mod matching;
mod tests;
mod vacation;
mod variables;

use std::collections::{HashMap, HashSet};

use crate::action::{Action, Outcome};
use crate::ast::{Command, FlagOp, Location, Script};
use crate::error::{Error, Limit};
use crate::limits::Limits;
use crate::message::{Context, Environment, Message};

/// Runs `script` on `message`. On `Err`, the caller must still keep the message in INBOX
/// (RFC 5228 §2.10.6) and tell the user why.
pub fn run(
    script: &Script,
    message: &Message,
    context: &Context,
    env: &dyn Environment,
    limits: &Limits,
) -> Result<Outcome, Error> {
    let mut machine = Machine {
        message,
        context,
        env,
        limits,
        steps: 0,
        actions: Vec::new(),
        implicit_keep: true,
        flags: Vec::new(),
        globals: HashMap::new(),
        variable_count: 0,
        include_stack: Vec::new(),
        included: HashSet::new(),
        includes: 0,
        regex_cache: HashMap::new(),
    };
    let mut frame = Frame::default();
    machine.block(&mut frame, &script.commands)?;
    machine.finish()
}

/// What a block tells its caller to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Go on with the next command.
    Next,
    /// `stop`: end the whole run.
    Stop,
    /// `return`: end the current script (RFC 6609 §3.4).
    Return,
}

/// One script's variables (RFC 6609: each included script has its own locals).
#[derive(Debug, Default)]
struct Frame {
    locals: HashMap<String, String>,
    globals: HashSet<String>,
    /// The match variables of the last successful `:matches`/`:regex`.
    matches: Vec<String>,
}

struct Machine<'a> {
    message: &'a Message,
    context: &'a Context,
    env: &'a dyn Environment,
    limits: &'a Limits,
    steps: u64,
    actions: Vec<Action>,
    implicit_keep: bool,
    /// The imap4flags internal variable (RFC 5232 §3).
    flags: Vec<String>,
    globals: HashMap<String, String>,
    variable_count: usize,
    include_stack: Vec<(Location, String)>,
    included: HashSet<(Location, String)>,
    includes: usize,
    regex_cache: HashMap<(String, bool), regex::Regex>,
}

impl Machine<'_> {
    /// Spends `n` steps of the budget.
    fn charge(&mut self, n: u64) -> Result<(), Error> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.max_steps {
            return Err(Error::limit(Limit::Steps, self.limits.max_steps));
        }
        Ok(())
    }

    /// Steps left in the budget.
    fn budget_left(&self) -> u64 {
        self.limits.max_steps.saturating_sub(self.steps)
    }

    fn block(&mut self, frame: &mut Frame, commands: &[Command]) -> Result<Flow, Error> {
        for command in commands {
            self.charge(1)?;
            let flow = self.command(frame, command)?;
            if flow != Flow::Next {
                return Ok(flow);
            }
        }
        Ok(Flow::Next)
    }

    fn command(&mut self, frame: &mut Frame, command: &Command) -> Result<Flow, Error> {
        match command {
            Command::If {
                branches,
                otherwise,
            } => {
                for (test, block) in branches {
                    if self.test(frame, test)? {
                        return self.block(frame, block);
                    }
                }
                return self.block(frame, otherwise);
            }
            Command::Stop => return Ok(Flow::Stop),
            Command::Return => return Ok(Flow::Return),
            Command::Vacation(args) => {
                if let Some(reply) = self.vacation(frame, args)? {
                    self.push(Action::Vacation(reply))?;
                }
            }
            Command::Flags {
                op,
                variable,
                flags,
            } => self.flags(frame, *op, variable, flags)?,
            Command::Set {
                name,
                value,
                modifiers,
            } => {
                let value = self.expand(frame, value)?;
                let value = variables::modify(value, modifiers);
                self.set_variable(frame, name, value)?;
            }
            Command::Include {
                name,
                location,
                once,
                optional,
            } => return self.include(name, *location, *once, *optional),
            Command::Global(names) => frame.globals.extend(names.iter().cloned()),
            _ => self.delivery(frame, command)?,
        }
        Ok(Flow::Next)
    }

    /// The commands that decide where the message goes, and whether they cancel the
    /// implicit keep (RFC 5228 §2.10.2, §4; RFC 3894 for `:copy`).
    fn delivery(&mut self, frame: &mut Frame, command: &Command) -> Result<(), Error> {
        let (action, cancels_keep) = match command {
            Command::Keep { flags } => {
                let flags = self.action_flags(frame, flags.as_deref())?;
                let keep = Action::Keep {
                    flags,
                    implicit: false,
                };
                (keep, true)
            }
            Command::Discard => (Action::Discard, true),
            Command::FileInto {
                mailbox,
                flags,
                copy,
                create,
            } => {
                let mailbox = self.expand(frame, mailbox)?;
                let flags = self.action_flags(frame, flags.as_deref())?;
                let action = Action::FileInto {
                    mailbox,
                    flags,
                    copy: *copy,
                    create: *create,
                };
                (action, !copy)
            }
            Command::Redirect { address, copy } => {
                let address = self.expand(frame, address)?;
                if !crate::compile::is_valid_address(&address) {
                    return Err(Error::BadAddress { address });
                }
                (
                    Action::Redirect {
                        address,
                        copy: *copy,
                    },
                    !copy,
                )
            }
            Command::Reject { reason, extended } => {
                let reason = self.expand(frame, reason)?;
                let action = Action::Reject {
                    reason,
                    extended: *extended,
                };
                (action, true)
            }
            _ => return Ok(()),
        };
        if cancels_keep {
            self.implicit_keep = false;
        }
        self.push(action)
    }

    /// `setflag`/`addflag`/`removeflag` (RFC 5232 §3).
    fn flags(
        &mut self,
        frame: &mut Frame,
        op: FlagOp,
        variable: &Option<crate::ast::Value>,
        flags: &[crate::ast::Value],
    ) -> Result<(), Error> {
        let mut given = Vec::new();
        for f in flags {
            given.push(self.expand(frame, f)?);
        }
        let given = variables::flag_list(&given);
        let current = match variable {
            Some(v) => {
                let name = self.expand(frame, v)?;
                variables::flag_list(&[self.variable(frame, &name)])
            }
            None => self.flags.clone(),
        };
        let next = variables::apply_flags(op, current, given);
        match variable {
            Some(v) => {
                let name = self.expand(frame, v)?;
                self.set_variable(frame, &name, next.join(" "))
            }
            None => {
                self.flags = next;
                Ok(())
            }
        }
    }

    /// The flags for `keep`/`fileinto`: `:flags` if given, else the internal variable.
    fn action_flags(
        &mut self,
        frame: &mut Frame,
        flags: Option<&[crate::ast::Value]>,
    ) -> Result<Vec<String>, Error> {
        let Some(flags) = flags else {
            return Ok(self.flags.clone());
        };
        let mut out = Vec::new();
        for f in flags {
            out.push(self.expand(frame, f)?);
        }
        Ok(variables::flag_list(&out))
    }

    /// Adds an action, applying the rules of RFC 5228 §4.2 (duplicates are done once) and
    /// the incompatibilities of RFC 5429 §2.1 and RFC 5230 §4.7.
    fn push(&mut self, action: Action) -> Result<(), Error> {
        let is_inbox = |a: &Action| match a {
            Action::Keep { .. } => true,
            Action::FileInto { mailbox, .. } => mailbox.eq_ignore_ascii_case("INBOX"),
            _ => false,
        };
        let rejects = |a: &Action| matches!(a, Action::Reject { .. });
        let delivers = |a: &Action| {
            matches!(
                a,
                Action::Keep { .. }
                    | Action::FileInto { .. }
                    | Action::Redirect { .. }
                    | Action::Vacation(_)
            )
        };
        for old in &self.actions {
            let clash = (rejects(old) && (rejects(&action) || delivers(&action)))
                || (rejects(&action) && delivers(old))
                || (matches!(old, Action::Vacation(_)) && matches!(action, Action::Vacation(_)));
            if clash {
                return Err(Error::IncompatibleActions {
                    first: old.name(),
                    second: action.name(),
                });
            }
            let duplicate = match (old, &action) {
                (Action::FileInto { mailbox: a, .. }, Action::FileInto { mailbox: b, .. }) => {
                    a == b
                }
                (Action::Redirect { address: a, .. }, Action::Redirect { address: b, .. }) => {
                    a.eq_ignore_ascii_case(b)
                }
                (Action::Discard, Action::Discard) => true,
                (a, b) => is_inbox(a) && is_inbox(b),
            };
            if duplicate {
                return Ok(());
            }
        }
        if matches!(action, Action::Redirect { .. }) {
            let redirects = self
                .actions
                .iter()
                .filter(|a| matches!(a, Action::Redirect { .. }))
                .count();
            if redirects >= self.limits.max_redirects {
                return Err(Error::limit(Limit::Redirects, self.limits.max_redirects));
            }
        }
        if self.actions.len() >= self.limits.max_actions {
            return Err(Error::limit(Limit::Actions, self.limits.max_actions));
        }
        self.actions.push(action);
        Ok(())
    }

    /// `include` (RFC 6609 §3.2): fetch, compile and run another script in its own frame.
    fn include(
        &mut self,
        name: &str,
        location: Location,
        once: bool,
        optional: bool,
    ) -> Result<Flow, Error> {
        let key = (location, name.to_owned());
        if once && self.included.contains(&key) {
            return Ok(Flow::Next);
        }
        let is_root =
            location == Location::Personal && self.context.script_name.as_deref() == Some(name);
        if is_root || self.include_stack.contains(&key) {
            return Err(Error::IncludeLoop {
                name: name.to_owned(),
            });
        }
        if self.include_stack.len() >= self.limits.max_include_depth {
            return Err(Error::limit(
                Limit::IncludeDepth,
                self.limits.max_include_depth,
            ));
        }
        self.includes += 1;
        if self.includes > self.limits.max_includes {
            return Err(Error::limit(Limit::Includes, self.limits.max_includes));
        }
        let Some(text) = self.env.script(name, location) else {
            if optional {
                return Ok(Flow::Next);
            }
            return Err(Error::IncludeNotFound {
                name: name.to_owned(),
            });
        };
        self.charge(text.len() as u64 / 16 + 1)?;
        let script = crate::compile(&text, self.limits).map_err(|e| Error::Included {
            name: name.to_owned(),
            source: Box::new(e),
        })?;
        self.included.insert(key.clone());
        self.include_stack.push(key);
        let mut frame = Frame::default();
        let flow = self.block(&mut frame, &script.commands);
        self.include_stack.pop();
        Ok(match flow? {
            Flow::Stop => Flow::Stop,
            Flow::Next | Flow::Return => Flow::Next,
        })
    }

    /// Ends the run: the implicit keep, if still in force, becomes a keep with the
    /// internal flags (RFC 5228 §2.10.2, RFC 5232 §5).
    fn finish(mut self) -> Result<Outcome, Error> {
        let rejected = self
            .actions
            .iter()
            .any(|a| matches!(a, Action::Reject { .. }));
        if self.implicit_keep && !rejected {
            let inbox_already = self.actions.iter().any(|a| match a {
                Action::Keep { .. } => true,
                Action::FileInto { mailbox, .. } => mailbox.eq_ignore_ascii_case("INBOX"),
                _ => false,
            });
            if !inbox_already {
                self.actions.push(Action::Keep {
                    flags: self.flags.clone(),
                    implicit: true,
                });
            }
        }
        Ok(Outcome {
            actions: self.actions,
            steps: self.steps,
        })
    }
}
