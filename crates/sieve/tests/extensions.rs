//! Examples of the extension RFCs (imap4flags, variables, relational, date, body, copy,
//! mailbox, reject, regex, subaddress), compiled and run.

mod common;

use certmail_sieve::Limits;
use common::{Store, actions, eval, eval_with};

const MSG: &str = "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\nFrom: coyote@desert.example.org\nTo: roadrunner@acme.example.com\nSubject: I have a present for you\nX-Priority: 1\n\nLook, I'm sorry about the whole anvil thing.\n";

/// RFC 5232 §6: flags on fileinto and on the implicit keep.
#[test]
fn imap4flags_examples() {
    let script = r#"require ["imap4flags", "fileinto", "variables"];
        if size :over 5 {
            setflag "\\Deleted";
        }
        if header :contains "from" "coyote" {
            setflag "flagvar" "\\Flagged";
            fileinto :flags "${flagvar}" "INBOX.From Boss";
        }
        addflag "\\Seen";
        removeflag "\\Deleted";"#;
    assert_eq!(
        actions(script, MSG),
        ["fileinto INBOX.From Boss [\\Flagged]",]
    );
    let keep = r#"require "imap4flags";
        addflag ["\\Seen \\Answered", "$Label1"];
        removeflag "\\answered";
        if hasflag :contains "label" { keep; }"#;
    assert_eq!(actions(keep, MSG), ["keep \\Seen $Label1"]);
    let implicit = r#"require "imap4flags"; setflag "\\Flagged";"#;
    assert_eq!(actions(implicit, MSG), ["implicit-keep \\Flagged"]);
    let var = r#"require ["imap4flags", "variables", "relational", "comparator-i;ascii-numeric"];
        addflag "flagvar" "\\Deleted";
        addflag "flagvar" "\\Answered";
        if hasflag :count "eq" :comparator "i;ascii-numeric" "flagvar" "2" { discard; }"#;
    assert_eq!(actions(var, MSG), ["discard"]);
}

/// RFC 5229 §4.1: modifiers and their precedence, through `string`.
#[test]
fn variables_modifiers() {
    let script = r#"require ["variables", "fileinto"];
        set "a" "juMBlEd lETteRS";
        set :length "b" "${a}";
        set :lower "c" "${a}";
        set :upperfirst "d" "${a}";
        set :upperfirst :lower "e" "${a}";
        set :quotewildcard "f" "Rock*";
        fileinto "${b}|${c}|${d}|${e}|${f}";"#;
    assert_eq!(
        actions(script, MSG),
        ["fileinto 15|jumbled letters|JuMBlEd lETteRS|Jumbled letters|Rock\\*"]
    );
}

/// RFC 5229 §3: names are case-insensitive, unknown references are empty, and text that
/// is not a reference stays.
#[test]
fn variables_references() {
    let script = r#"require ["variables", "reject"];
        set "honorific"  "Mr";
        set "last_name"  "Coyote";
        set "company" "ACME";
        reject "Dear ${HONORIFIC} ${last_name}${unset} of ${President, ${Company} Inc.} ${}";"#;
    assert_eq!(
        actions(script, MSG),
        ["reject Dear Mr Coyote of ${President, ACME Inc.} ${}"]
    );
    // Without `require "variables"`, nothing is expanded.
    let plain = r#"require "fileinto"; fileinto "${x}";"#;
    assert_eq!(actions(plain, MSG), ["fileinto ${x}"]);
}

/// RFC 5229 §3.2: match variables from `:matches`.
#[test]
fn match_variables() {
    let script = r#"require ["fileinto", "variables"];
        if header :matches "List-ID" "*<*@*" {
            fileinto "INBOX.lists.${2}"; stop;
        }
        # Imagine the header
        # Subject: [acme-users] [fwd] version 1.2 is out
        if header :matches "Subject" "[*] *" {
            # ${1} will hold "acme-users",
            # ${2} will hold "[fwd] version 1.2 is out"
            fileinto "INBOX.lists.${1}"; stop;
        }
        # Imagine the header
        # To: coyote@ACME.Example.COM
        if address :matches ["To", "Cc"] ["coyote@**.com",
                "wile@**.com"] {
            # ${0} is the matching address
            # ${1} is always the empty string
            # ${2} is part of the domain name ("ACME.Example")
            fileinto "INBOX.business.${2}"; stop;
        } else {
            # Control wouldn't reach this block if any match was
            # successful, so no match variables are set at this
            # point.
        }
        if anyof (true, address :domain :matches "To" "*.com") {
            # The second test is never evaluated, so there are
            # still no match variables set.
            stop;
        }"#;
    // The first List-ID has no `@`; the second gives ${2} = "sieve".
    let list = "List-ID: Sieve group <sieve.ietf.org>\nList-Id: x <sieve@ietf.org>\n\nx";
    assert_eq!(actions(script, list), ["fileinto INBOX.lists.sieve"]);
    let subject = "Subject: [acme-users] [fwd] version 1.2 is out\n\nx";
    assert_eq!(
        actions(script, subject),
        ["fileinto INBOX.lists.acme-users"]
    );
    let to = "To: coyote@ACME.Example.COM\n\nx";
    assert_eq!(
        actions(script, to),
        ["fileinto INBOX.business.ACME.Example"]
    );
    assert_eq!(actions(script, "Subject: x\n\nx"), ["implicit-keep"]);
}

/// RFC 5229 §5: the `string` test.
#[test]
fn string_test() {
    let script = r#"require ["variables", "relational", "comparator-i;ascii-numeric"];
        set "state" "${state} pending";
        if string :matches " ${state} " "* pending *" { discard; }
        if string :count "eq" :comparator "i;ascii-numeric" ["${unset}", "x"] "1" { keep; }"#;
    assert_eq!(actions(script, MSG), ["discard", "keep"]);
}

/// RFC 5231 §6 examples.
#[test]
fn relational_examples() {
    let script = r#"require ["relational", "comparator-i;ascii-numeric", "fileinto"];
        if header :value "lt" :comparator "i;ascii-numeric"
                  ["x-priority"] ["3"] {
            fileinto "Priority";
        }
        elsif address :count "gt" :comparator "i;ascii-numeric"
                  ["to"] ["5"] {
            fileinto "Spam";
        }
        elsif address :value "gt" :all :comparator "i;ascii-casemap"
                  ["from"] ["M"] {
            fileinto "From N-Z";
        } else {
            fileinto "From A-M";
        }
        if allof ( address :count "eq" :comparator "i;ascii-numeric"
                           ["to", "cc"] ["1"] ,
                   address :all :comparator "i;ascii-casemap"
                           ["to", "cc"] ["roadrunner@acme.example.com"] ) {
            fileinto "Only me";
        }"#;
    assert_eq!(
        actions(script, MSG),
        ["fileinto Priority", "fileinto Only me"]
    );
    let low = MSG.replace("X-Priority: 1", "X-Priority: 4");
    assert_eq!(
        actions(script, &low),
        ["fileinto From A-M", "fileinto Only me"]
    );
    let many = low.replace(
        "To: roadrunner@acme.example.com",
        "To: a@x.example, b@x.example, c@x.example, d@x.example, e@x.example, f@x.example",
    );
    assert_eq!(actions(script, &many), ["fileinto Spam"]);
}

/// RFC 5260 §6 examples (the clock is 2026-12-06 12:00 +0900, a Sunday).
#[test]
fn date_examples() {
    let office = r#"require ["date", "relational", "fileinto"];
        if allof(header :is "from" "coyote@desert.example.org",
                 date :value "ge" :originalzone "date" "hour" "09",
                 date :value "lt" :originalzone "date" "hour" "17")
        { fileinto "urgent"; }"#;
    assert_eq!(actions(office, MSG), ["fileinto urgent"]);
    // In UTC the message was sent at 17:06: outside office hours.
    let utc = office.replace(":originalzone", ":zone \"+0000\"");
    assert_eq!(actions(&utc, MSG), ["implicit-keep"]);
    let weekend = r#"require ["date", "relational"];
        if anyof(currentdate :is "weekday" "0", currentdate :is "weekday" "6") { discard; }"#;
    assert_eq!(actions(weekend, MSG), ["discard"]);
    let received = "Received: from a by b; Sat, 5 Dec 2026 10:00:00 +0000\nSubject: x\n\nx";
    let by_received = r#"require ["date", "relational"];
        if anyof(date :is "received" "weekday" "0", date :is "received" "weekday" "6") { discard; }"#;
    assert_eq!(actions(by_received, received), ["discard"]);
    let folder = r#"require ["date", "variables", "fileinto"];
        if currentdate :matches "month" "*" { set "month" "${1}"; }
        if currentdate :matches "year"  "*" { set "year" "${1}"; }
        fileinto "${month}-${year}";"#;
    assert_eq!(actions(folder, MSG), ["fileinto 12-2026"]);
    let july = r#"require ["date", "relational", "vacation"];
        if allof(currentdate :value "ge" "date" "2026-12-01",
                 currentdate :value "le" "date" "2026-12-07")
        { vacation :days 7 "I'm away during the first week in December."; }"#;
    let to_me = "From: a@example.org\nTo: me@example.com\n\nx";
    assert_eq!(
        actions(july, to_me)[0],
        "vacation to a@example.org subject \"Auto:\""
    );
    assert_eq!(
        actions(
            office
                .replace("\"date\" \"hour\"", "\"x-none\" \"hour\"")
                .as_str(),
            MSG
        ),
        ["implicit-keep"]
    );
}

/// RFC 5173 §7 examples.
#[test]
fn body_examples() {
    let raw = r#"require "body"; if body :raw :contains "MAKE MONEY FAST" { discard; }"#;
    assert_eq!(
        actions(raw, "Subject: x\n\nplease MAKE MONEY FAST now\n"),
        ["discard"]
    );
    let mime = "Subject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\nVGhlIG1pc3NpbGUgaXMgcmVhZHk=\n--b\nContent-Type: audio/mpeg\n\nID3\n--b--\n";
    let script = r#"require ["body", "fileinto"];
        if body :content "text" :contains ["missile", "coordinates"] { fileinto "secrets"; }
        if body :content "audio" :contains "" { fileinto "jukebox"; }
        if body :text :contains "ready" { fileinto "text"; }
        if body :raw :contains "ready" { fileinto "raw"; }"#;
    assert_eq!(
        actions(script, mime),
        ["fileinto secrets", "fileinto jukebox", "fileinto text"]
    );
}

/// RFC 3894 (copy) and RFC 5490 (mailbox).
#[test]
fn copy_and_mailbox() {
    let script =
        r#"require ["copy", "fileinto"]; fileinto :copy "incoming"; redirect :copy "a@b.example";"#;
    assert_eq!(
        actions(script, MSG),
        [
            "fileinto incoming :copy",
            "redirect a@b.example :copy",
            "implicit-keep"
        ]
    );
    let script = r#"require ["fileinto", "reject", "mailbox"];
        if mailboxexists "Partners" { fileinto :create "Partners"; }
        else { reject "This message was not accepted by the Mailstore"; }"#;
    let store = Store {
        mailboxes: vec!["Partners".into()],
        ..Store::default()
    };
    let outcome = eval_with(script, MSG, &store, &Limits::default()).unwrap();
    assert_eq!(common::summary(&outcome), ["fileinto Partners :create"]);
    assert_eq!(
        actions(script, MSG),
        ["reject This message was not accepted by the Mailstore"]
    );
}

/// RFC 5429: ereject.
#[test]
fn ereject_example() {
    let script = r#"require ["ereject"];
        if address "from" "coyote@desert.example.org" {
            ereject "I no longer accept mail from this address";
        }"#;
    assert_eq!(
        actions(script, MSG),
        ["ereject I no longer accept mail from this address"]
    );
}

/// draft-ietf-sieve-regex: `:regex` with match groups and `:quoteregex`.
#[test]
fn regex_match_type() {
    let script = r#"require ["regex", "variables", "fileinto"];
        if header :regex "List-ID" "<([a-z]+)[.@]" { fileinto "lists.${1}"; }
        if address :regex :domain "from" "^desert\\.(.*)$" { fileinto "desert.${1}"; }
        set :quoteregex "q" "a.b";
        if string :regex "axb" "${q}" { fileinto "wrong"; }"#;
    let msg = "List-ID: Sieve <sieve.ietf.org>\nFrom: coyote@desert.example.org\n\nx";
    assert_eq!(
        actions(script, msg),
        ["fileinto lists.sieve", "fileinto desert.example.org"]
    );
    // A pattern that only fails at run time (built from a variable) is an error value.
    let bad = r#"require ["regex", "variables"]; set "p" "("; if header :regex "subject" "${p}" { keep; }"#;
    assert!(eval(bad, MSG).is_err());
}

/// RFC 5233: subaddress.
#[test]
fn subaddress() {
    let script = r#"require ["subaddress", "fileinto", "envelope"];
        if envelope :detail "to" "lists" { fileinto "lists"; }
        if address :user "to" "me" { fileinto "me"; }"#;
    let msg = "From: a@b.example\nTo: me+lists@example.com\n\nx";
    assert_eq!(actions(script, msg), ["fileinto lists", "fileinto me"]);
}

/// RFC 5260 §6–§7: `:index` and `:last` pick one occurrence of a field.
#[test]
fn index_extension() {
    let msg = "Received: from a by b; Mon, 7 Dec 2026 09:00:00 +0900\nReceived: from c by d; Sat, 5 Dec 2026 10:00:00 +0000\nX-Hop: first\nX-Hop: second\nX-Hop: third\nFrom: a@x.example\nFrom: b@y.example\n\nx";
    let script = r#"require ["index", "date", "fileinto"];
        # The oldest Received (the last one) says Saturday: weekday 6.
        if date :index 1 :last "received" "weekday" "6" { fileinto "weekend"; }
        if date :index 1 "received" "weekday" "1" { fileinto "monday"; }
        if header :index 2 "x-hop" "second" { fileinto "second"; }
        if header :index 1 :last "x-hop" "third" { fileinto "third"; }
        if header :index 9 "x-hop" "first" { fileinto "never"; }
        if address :index 2 :domain "from" "y.example" { fileinto "y"; }"#;
    assert_eq!(
        actions(script, msg),
        [
            "fileinto weekend",
            "fileinto monday",
            "fileinto second",
            "fileinto third",
            "fileinto y"
        ]
    );
    for (bad, needle) in [
        (r#"if header :index 1 "a" "b" { }"#, "require \"index\""),
        (
            r#"require "index"; if header :last "a" "b" { }"#,
            "`:last` needs `:index`",
        ),
        (
            r#"require "index"; if header :index 0 "a" "b" { }"#,
            "counts from 1",
        ),
        (
            r#"require ["index", "envelope"]; if envelope :index 1 "to" "b" { }"#,
            "unknown tag",
        ),
    ] {
        let e = certmail_sieve::compile(bad, &Limits::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
}
