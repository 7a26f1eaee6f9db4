//! RFC 6609 (include): personal and global scripts, `:once`, `:optional`, `return`,
//! `global` variables, and loops.

mod common;

use certmail_sieve::{Error, Limit, Limits};
use common::{Store, eval_with, summary};

const MSG: &str = "From: a@example.org\nTo: me@example.com\nSubject: Make money fast\n\nx\n";

fn run(script: &str, store: &Store) -> Result<Vec<String>, Error> {
    eval_with(script, MSG, store, &Limits::default()).map(|o| summary(&o))
}

/// RFC 6609 §3.2's example.
#[test]
fn personal_and_global_scripts() {
    let store = Store::default()
        .with_script("always_allow", "if address :is \"from\" \"boss@example.org\" { keep; stop; }")
        .with_global("spam_tests", "require \"fileinto\"; if header :contains \"subject\" \"money\" { fileinto \"Spam\"; }")
        .with_script("spam_tests", "require \"fileinto\"; if header :contains \"subject\" \"fast\" { fileinto \"Fast\"; }")
        .with_script("mailing_lists", "require \"fileinto\"; if exists \"list-id\" { fileinto \"lists\"; }");
    let script = r#"require ["include"];
        include :personal "always_allow";
        include :global "spam_tests";
        include :personal "spam_tests";
        include :personal "mailing_lists";"#;
    assert_eq!(
        run(script, &store).unwrap(),
        ["fileinto Spam", "fileinto Fast"]
    );
}

/// RFC 6609 §3.3's example: global variables shared with the included script.
#[test]
fn global_variables() {
    let store = Store::default().with_script(
        "subject_tests",
        r#"require ["variables", "include"];
           global ["test", "test_mailbox"];
           if header :contains "Subject" "${test}" { set "test_mailbox" "spam-${test}"; }"#,
    );
    let script = r#"require ["variables", "include", "relational", "fileinto"];
        global "test";
        global "test_mailbox";
        set "test" "$$";
        include "subject_tests";
        set "test" "Make money";
        include "subject_tests";
        if string :count "eq" "${test_mailbox}" "1" { fileinto "${test_mailbox}"; stop; }"#;
    assert_eq!(run(script, &store).unwrap(), ["fileinto spam-Make money"]);
}

/// `:once`, `:optional`, `return`, and a missing script.
#[test]
fn once_optional_return() {
    let store = Store::default().with_script(
        "flagger",
        "require [\"include\", \"fileinto\"]; fileinto \"one\"; return; fileinto \"two\";",
    );
    let script = r#"require "include";
        include :once "flagger";
        include :once "flagger";
        include :optional "absent";"#;
    assert_eq!(run(script, &store).unwrap(), ["fileinto one"]);
    let missing = run("require \"include\"; include \"absent\";", &store).unwrap_err();
    assert!(matches!(missing, Error::IncludeNotFound { .. }));
    // `stop` in an included script ends the whole run.
    let store = Store::default().with_script("stopper", "stop;");
    let script = "require [\"include\"]; include \"stopper\"; discard;";
    assert_eq!(run(script, &store).unwrap(), ["implicit-keep"]);
}

/// A script that includes itself, directly or through another, is stopped.
#[test]
fn include_loops_are_errors() {
    let store = Store::default()
        .with_script("a", "require \"include\"; include \"b\";")
        .with_script("b", "require \"include\"; include \"a\";");
    let e = run("require \"include\"; include \"a\";", &store).unwrap_err();
    assert!(matches!(e, Error::IncludeLoop { .. }), "{e}");
    let store = Store::default().with_script("main", "keep;");
    let e = run("require \"include\"; include \"main\";", &store).unwrap_err();
    assert!(matches!(e, Error::IncludeLoop { .. }), "{e}");
}

/// Include depth and count are bounded, and a broken included script is reported by name.
#[test]
fn include_bounds() {
    let mut store = Store::default();
    for i in 0..10 {
        let text = format!("require \"include\"; include \"s{}\";", i + 1);
        store = store.with_script(&format!("s{i}"), &text);
    }
    let e = run("require \"include\"; include \"s0\";", &store).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LimitExceeded {
                limit: Limit::IncludeDepth,
                ..
            }
        ),
        "{e}"
    );
    let store = Store::default().with_script("x", "keep;");
    let many = "require \"include\";".to_owned() + &"include \"x\";".repeat(20);
    let e = run(&many, &store).unwrap_err();
    assert!(
        matches!(
            e,
            Error::LimitExceeded {
                limit: Limit::Includes,
                ..
            }
        ),
        "{e}"
    );
    let store = Store::default().with_script("broken", "fileinto \"x\";");
    let e = run("require \"include\"; include \"broken\";", &store).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("in included script \"broken\": line 1, column 1"),
        "{e}"
    );
}
