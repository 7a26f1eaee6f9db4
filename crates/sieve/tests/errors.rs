//! Compile-time errors (RFC 5228 §2–§5 and the extensions): each with its place and a
//! message that says what to change.

use certmail_sieve::{Error, Limits, Position, compile};

fn error(script: &str) -> Error {
    match compile(script, &Limits::default()) {
        Ok(s) => panic!("compiled but should not: {script:?} → {s:?}"),
        Err(e) => e,
    }
}

fn at(line: u32, column: u32) -> Option<Position> {
    Some(Position { line, column })
}

#[test]
fn unknown_command_and_test_have_positions() {
    let e = error("keep;\n  frobnicate \"x\";");
    assert!(matches!(&e, Error::UnknownCommand { name, .. } if name == "frobnicate"));
    assert_eq!(e.position(), at(2, 3));
    assert_eq!(
        e.to_string(),
        "line 2, column 3: unknown command `frobnicate`"
    );
    let e = error("if sometimes { keep; }");
    assert!(matches!(&e, Error::UnknownTest { name, .. } if name == "sometimes"));
    assert_eq!(e.position(), at(1, 4));
}

#[test]
fn require_rules() {
    let e = error("fileinto \"x\";");
    assert_eq!(
        e.to_string(),
        "line 1, column 1: `fileinto` needs `require \"fileinto\";` at the top of the script"
    );
    assert!(matches!(
        error("require \"teleport\";"),
        Error::UnknownExtension { .. }
    ));
    assert!(matches!(
        error("keep;\nrequire \"fileinto\";"),
        Error::RequireNotFirst { .. }
    ));
    let cases = [
        ("keep :flags \"\\\\Seen\";", "imap4flags"),
        ("redirect :copy \"a@b.c\";", "copy"),
        ("require \"fileinto\"; fileinto :create \"x\";", "mailbox"),
        ("if header :regex \"a\" \"b\" { }", "regex"),
        ("if header :count \"gt\" \"a\" \"1\" { }", "relational"),
        (
            "if header :comparator \"i;ascii-numeric\" \"a\" \"1\" { }",
            "comparator-i;ascii-numeric",
        ),
        ("if envelope \"from\" \"x\" { }", "envelope"),
        ("if body :contains \"x\" { }", "body"),
        ("if currentdate \"year\" \"2026\" { }", "date"),
        ("set \"a\" \"b\";", "variables"),
        ("vacation \"away\";", "vacation"),
        ("include \"x\";", "include"),
        ("ereject \"no\";", "ereject"),
        ("if address :user \"to\" \"x\" { }", "subaddress"),
        ("if mailboxexists \"x\" { }", "mailbox"),
        ("if hasflag \"x\" { }", "imap4flags"),
    ];
    for (script, extension) in cases {
        match error(script) {
            Error::MissingRequire { extension: e, .. } => assert_eq!(e, extension, "{script}"),
            other => panic!("{script}: {other}"),
        }
    }
}

#[test]
fn argument_rules() {
    let cases = [
        ("require \"fileinto\"; fileinto 5;", "must be a string"),
        ("require \"fileinto\"; fileinto;", "is missing"),
        (
            "require \"fileinto\"; fileinto \"a\" \"b\";",
            "too many arguments",
        ),
        ("if size \"big\" { }", "needs `:over` or `:under`"),
        ("if size :over { }", "is missing"),
        ("if size :over :under 5 { }", "cannot be used together"),
        (
            "if header :is :contains \"a\" \"b\" { }",
            "cannot be used together",
        ),
        ("if header :is :is \"a\" \"b\" { }", "given twice"),
        ("if header \"a\" { }", "key list is missing"),
        (
            "if header :comparator \"i;klingon\" \"a\" \"b\" { }",
            "unknown comparator",
        ),
        (
            "if header :comparator \"a\" \"b\" { }",
            "unknown comparator \"a\"",
        ),
        ("if header :frobnicate \"a\" \"b\" { }", "unknown tag"),
        ("keep :copy;", "unknown tag"),
        ("stop \"now\";", "too many arguments"),
        ("if true;", "needs a `{"),
        ("if true { } elsif { }", "needs exactly one test"),
        ("if (true, false) { }", "needs exactly one test"),
        ("if not (true) { }", "exactly one test"),
        ("if allof true { }", "list of tests"),
        ("keep { }", "takes no block"),
        ("discard true;", "takes no test"),
        ("if true { } else true { }", "takes no arguments"),
        (
            "require [\"relational\", \"comparator-i;ascii-numeric\"];\
          if header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" { }",
            "cannot be used with",
        ),
        (
            "require \"relational\"; if header :value \"bigger\" \"a\" \"1\" { }",
            "unknown relation",
        ),
        (
            "require \"date\"; if currentdate \"fortnight\" \"1\" { }",
            "unknown date part",
        ),
        (
            "require \"date\"; if currentdate :zone \"KST\" \"year\" \"1\" { }",
            "+hhmm",
        ),
        (
            "require \"envelope\"; if envelope \"subject\" \"x\" { }",
            "not \"from\" or \"to\"",
        ),
        (
            "require \"vacation\"; vacation :days \"7\" \"away\";",
            "followed by a number",
        ),
        (
            "require \"include\"; include \"../x\";",
            "plain, non-empty name",
        ),
        ("redirect \"not an address\";", "not a valid address"),
        (
            "redirect \"a@b.example\r\nBcc: x@y\";",
            "not a valid address",
        ),
        (
            "if header :is \"Subject:\" \"x\" { }",
            "not a header field name",
        ),
        ("if exists \"\" { }", "not a header field name"),
    ];
    for (script, needle) in cases {
        let e = error(script).to_string();
        assert!(e.contains(needle), "{script}: got {e:?}, wanted {needle:?}");
    }
}

#[test]
fn syntax_errors() {
    let cases = [
        ("keep", "missing its `;`"),
        ("if true { keep;", "expected `}`"),
        ("}", "unexpected `}`"),
        ("\"string\";", "expected a command name"),
        ("fileinto [\"a\",];", "expected a string"),
        ("keep @;", "unexpected character"),
        ("/* never closed", "unterminated /* comment"),
        ("keep \"open;", "unterminated string"),
        (
            "if true { } elsif true { }\nelse { }\nelse { }",
            "without a preceding `if`",
        ),
        ("elsif true { }", "without a preceding `if`"),
        ("keep :;", "tag name"),
        ("keep 5x;", "run into a word"),
    ];
    for (script, needle) in cases {
        let e = error(script).to_string();
        assert!(e.contains(needle), "{script}: got {e:?}, wanted {needle:?}");
    }
}

#[test]
fn bad_regex_and_variable_names() {
    let e = error("require \"regex\"; if header :regex \"subject\" \"(\" { }");
    assert!(matches!(e, Error::BadRegex { .. }), "{e}");
    let e = error("require \"variables\"; set \"1abc\" \"x\";");
    assert!(matches!(e, Error::BadVariable { .. }), "{e}");
    let e = error("require [\"variables\", \"include\"]; global \"a-b\";");
    assert!(matches!(e, Error::BadVariable { .. }), "{e}");
}

/// Upper-case names and tags are the same as lower-case (RFC 5228 §2.9, §2.6.2).
#[test]
fn names_are_case_insensitive() {
    let script = "REQUIRE \"fileinto\"; IF HEADER :CONTAINS \"subject\" \"x\" { FILEINTO \"a\"; } ELSE { KEEP; }";
    assert!(compile(script, &Limits::default()).is_ok());
}
