//! RFC 5230 (vacation) examples and the rules on when not to reply.

mod common;

use certmail_sieve::Action;
use common::{actions, eval};

const MSG: &str = "From: sender@example.org\nTo: me@example.com\nSubject: cyrus question\nMessage-ID: <1@example.org>\n\nhello\n";

fn vacation(script: &str, message: &str) -> Option<certmail_sieve::Vacation> {
    let outcome = eval(script, message).unwrap();
    outcome.actions.into_iter().find_map(|a| match a {
        Action::Vacation(v) => Some(v),
        _ => None,
    })
}

/// RFC 5230 §4.1 example: two reasons, chosen by the subject; the keep stays.
#[test]
fn choice_of_reason() {
    let script = r#"require "vacation";
        if header :contains "subject" "cyrus" {
            vacation "I'm out -- send mail to cyrus-bugs";
        } else {
            vacation "I'm out -- call me at 321-1723";
        }"#;
    let v = vacation(script, MSG).unwrap();
    assert_eq!(v.reason, "I'm out -- send mail to cyrus-bugs");
    assert_eq!(v.to, "sender@example.org");
    assert_eq!(v.days, 7);
    assert_eq!(v.subject, "Auto: cyrus question");
    assert_eq!(v.in_reply_to.as_deref(), Some("<1@example.org>"));
    assert_eq!(
        actions(script, MSG),
        [
            "vacation to sender@example.org subject \"Auto: cyrus question\"",
            "implicit-keep"
        ]
    );
}

/// RFC 5230 §4.3 example: `:days` and `:addresses`.
#[test]
fn days_and_addresses() {
    let script = r#"require "vacation";
        vacation :days 23 :addresses ["tjs@example.edu",
                                      "ts4z@landru.example.edu"]
        "I'm away until October 19.
        If it's an emergency, call 911, I guess." ;"#;
    let to_alias = "From: a@example.org\nTo: ts4z@landru.example.edu\n\nx";
    let v = vacation(script, to_alias).unwrap();
    assert_eq!(v.days, 23);
    assert!(v.addresses.contains(&"tjs@example.edu".to_owned()));
    // Not addressed to the user or an alias (RFC 5230 §4.5): no reply.
    let elsewhere = "From: a@example.org\nTo: someone@else.example\n\nx";
    let outcome = common::eval_for(script, elsewhere, "me@example.com").unwrap();
    assert!(
        !outcome
            .actions
            .iter()
            .any(|a| matches!(a, Action::Vacation(_)))
    );
    // Days are clamped to the configured range.
    let long = r#"require "vacation"; vacation :days 1000 "away";"#;
    assert_eq!(vacation(long, MSG).unwrap().days, 90);
    let zero = r#"require "vacation"; vacation :days 0 "away";"#;
    assert_eq!(vacation(zero, MSG).unwrap().days, 1);
}

/// RFC 5230 §4.4 example: redirect for one sender, vacation for the others.
#[test]
fn redirect_or_vacation() {
    let script = r#"require "vacation";
        if header :contains "from" "boss@example.edu" {
            redirect "pleeb@isp.example.org";
        } else {
            vacation "Sorry, I'm away, I'll read your message when I get around to it.";
        }"#;
    let boss = "From: boss@example.edu\nTo: me@example.com\n\nx";
    assert_eq!(actions(script, boss), ["redirect pleeb@isp.example.org"]);
    assert!(vacation(script, MSG).is_some());
}

/// RFC 5230 §4.2: `:handle` ties replies together; without it, one is derived from the
/// arguments so the same vacation gives the same handle.
#[test]
fn handles() {
    let script = r#"require "vacation";
        if header :contains "subject" "lunch" {
            vacation :handle "ran-away" "I'm out and can't meet for lunch";
        } else {
            vacation :handle "ran-away" "I'm out";
        }"#;
    assert_eq!(vacation(script, MSG).unwrap().handle, "ran-away");
    let a = vacation(r#"require "vacation"; vacation "x";"#, MSG).unwrap();
    let b = vacation(r#"require "vacation"; vacation "x";"#, MSG).unwrap();
    let c = vacation(r#"require "vacation"; vacation "y";"#, MSG).unwrap();
    assert_eq!(a.handle, b.handle);
    assert_ne!(a.handle, c.handle);
}

/// RFC 5230 §4.7 (subject with a variable), §4.6 (`:from`), §4.8 (`:mime`).
#[test]
fn subject_from_and_mime() {
    let script = r#"require ["vacation", "variables"];
        if header :matches "subject" "*" {
            vacation :subject "Automatic response to: ${1}"
                     :from "hemingway@example.com" "I'm away";
        }"#;
    let v = vacation(script, MSG).unwrap();
    assert_eq!(v.subject, "Automatic response to: cyrus question");
    assert_eq!(v.from.as_deref(), Some("hemingway@example.com"));
    let mime = "require \"vacation\";\nvacation :mime text:\nContent-Type: text/plain; charset=utf-8\n\n부재중입니다.\n.\n;";
    let v = vacation(mime, MSG).unwrap();
    assert!(v.mime);
    assert!(v.reason.contains("부재중"));
}

/// RFC 5230 §4.5–§4.6 and RFC 3834: no reply to lists, bulk, auto-replies, the null
/// sender or the user's own address.
#[test]
fn no_reply_to_automatic_mail() {
    let script = r#"require "vacation"; vacation "away";"#;
    let cases = [
        "From: a@example.org\nTo: me@example.com\nList-Id: <l.example.org>\n\nx",
        "From: a@example.org\nTo: me@example.com\nPrecedence: bulk\n\nx",
        "From: a@example.org\nTo: me@example.com\nAuto-Submitted: auto-replied\n\nx",
        "From: owner-list@example.org\nTo: me@example.com\n\nx",
        "From: MAILER-DAEMON@example.org\nTo: me@example.com\n\nx",
        "From: me@example.com\nTo: me@example.com\n\nx",
        "To: me@example.com\n\nx",
    ];
    for msg in cases {
        assert!(vacation(script, msg).is_none(), "replied to {msg:?}");
    }
    let fine = "From: a@example.org\nTo: Me <ME@example.com>\nAuto-Submitted: no\n\nx";
    assert!(vacation(script, fine).is_some());
}

/// RFC 5230 §4.7: vacation with reject is an error, and so is a second vacation.
#[test]
fn incompatible_with_reject() {
    let script = r#"require ["vacation", "reject"]; vacation "away"; reject "no";"#;
    assert!(eval(script, MSG).is_err());
    let twice = r#"require "vacation"; vacation "a"; vacation "b";"#;
    assert!(eval(twice, MSG).is_err());
}

/// A recipient is compared as a whole address: `me@example.com` is not in
/// `name@example.com` (RFC 5230 §4.5).
#[test]
fn recipient_match_is_exact() {
    let script = r#"require "vacation"; vacation "away";"#;
    let msg = "From: a@example.org\nTo: name@example.com\n\nx";
    let outcome = common::eval_for(script, msg, "me@example.com").unwrap();
    assert!(
        !outcome
            .actions
            .iter()
            .any(|a| matches!(a, Action::Vacation(_)))
    );
}
