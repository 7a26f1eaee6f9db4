//! RFC 5228's examples, compiled and run against small messages.

mod common;

use common::{actions, eval};

const EXTENDED_EXAMPLE: &str = r#"
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"#;

/// RFC 5228 §9, with one message for each branch.
#[test]
fn extended_example_section_9() {
    let list = "Sender: owner-ietf-mta-filters@imc.org\nFrom: a@imc.org\nTo: me@example.org\n\nx\n";
    assert_eq!(actions(EXTENDED_EXAMPLE, list), ["fileinto filter"]);
    let company = "From: boss@example.com\nTo: me@example.org\n\nx\n";
    assert_eq!(actions(EXTENDED_EXAMPLE, company), ["keep"]);
    let not_me = "From: x@else.org\nTo: other@else.org\n\nx\n";
    assert_eq!(actions(EXTENDED_EXAMPLE, not_me), ["fileinto spam"]);
    let spam = "From: x@else.org\nTo: x@else.org\nCc: me@example.com\nSubject: MAKE lots of MONEY very FAST\n\nx\n";
    assert_eq!(actions(EXTENDED_EXAMPLE, spam), ["fileinto spam"]);
    let personal =
        "From: friend@else.org\nTo: x@else.org\nCc: Me <me@example.com>\nSubject: hi\n\nx\n";
    assert_eq!(actions(EXTENDED_EXAMPLE, personal), ["fileinto personal"]);
}

/// RFC 5228 §3.1.
#[test]
fn if_elsif_else() {
    let script = r#"
        require "fileinto";
        if header :contains "from" "coyote" {
            discard;
        } elsif header :contains ["subject"] ["$$$"] {
            discard;
        } else {
            fileinto "INBOX";
        }"#;
    assert_eq!(
        actions(script, "From: wile.coyote@acme.example\n\nx"),
        ["discard"]
    );
    assert_eq!(
        actions(script, "From: a@b.c\nSubject: win $$$ now\n\nx"),
        ["discard"]
    );
    // fileinto "INBOX" is the keep; no second copy by the implicit keep.
    assert_eq!(
        actions(script, "From: a@b.c\nSubject: hi\n\nx"),
        ["fileinto INBOX"]
    );
}

/// RFC 5228 §2.10.2 and §4: which actions cancel the implicit keep.
#[test]
fn implicit_keep_rules() {
    assert_eq!(actions("", "Subject: x\n\nx"), ["implicit-keep"]);
    assert_eq!(actions("# nothing\n", "Subject: x\n\nx"), ["implicit-keep"]);
    assert_eq!(actions("discard;", "Subject: x\n\nx"), ["discard"]);
    assert_eq!(
        actions("redirect \"a@b.example\";", "Subject: x\n\nx"),
        ["redirect a@b.example"]
    );
    assert_eq!(
        actions("keep; discard;", "Subject: x\n\nx"),
        ["keep", "discard"]
    );
    assert_eq!(
        actions(
            "require \"fileinto\"; fileinto \"a\"; fileinto \"a\";",
            "Subject: x\n\nx"
        ),
        ["fileinto a"]
    );
    assert_eq!(
        actions("stop; discard;", "Subject: x\n\nx"),
        ["implicit-keep"]
    );
    assert_eq!(
        actions(
            "redirect \"a@b.example\"; redirect \"A@B.example\";",
            "Subject: x\n\nx"
        ),
        ["redirect a@b.example"]
    );
}

/// RFC 5228 §5.2, §5.3, §5.5, §5.6, §5.7, §5.8, §5.9.
#[test]
fn base_tests() {
    let msg = "From: Cobb <cobb@example.com>\nTo: Bart <bart@example.com>\nDate: Tue, 1 Apr 1997 09:06:31 -0800\nX-Caffeine: \nSubject: hello\n\nbody\n";
    let t = |test: &str| -> bool {
        let script = format!("if {test} {{ discard; }}");
        actions(&script, msg) == ["discard"]
    };
    assert!(t(
        r#"allof (header :contains "From" "Cobb", header :contains "to" "Bart")"#
    ));
    assert!(!t(
        r#"allof (header :contains "From" "Cobb", header :contains "to" "Lisa")"#
    ));
    assert!(t(r#"anyof (false, header :contains "to" "Bart")"#));
    assert!(t(r#"exists ["From", "Date"]"#));
    assert!(!t(r#"exists ["From", "Reply-To"]"#));
    assert!(t(r#"header :is ["X-Caffeine"] [""]"#));
    assert!(t(r#"header :contains ["X-Caffeine"] [""]"#));
    assert!(!t(r#"header :contains ["X-Missing"] [""]"#));
    assert!(t(r#"not size :over 500K"#));
    assert!(t(r#"size :under 1M"#));
    assert!(t(r#"size :over 10"#));
    assert!(t(r#"true"#));
    assert!(!t(r#"false"#));
    assert!(t(r#"not not true"#));
    assert!(t(r#"header :comparator "i;octet" :is "subject" "hello""#));
    assert!(!t(r#"header :comparator "i;octet" :is "subject" "HELLO""#));
    assert!(t(r#"header :is "subject" "HELLO""#));
    assert!(t(r#"header :matches "subject" "h?ll*""#));
}

/// RFC 5228 §5.1 and §2.7.4: address parts.
#[test]
fn address_parts() {
    let msg = "From: \"Tim\" <tim@example.com>\nTo: undisclosed-recipients:;\nCc: a@x.example, Group: b@y.example, c@z.example;\n\nx";
    let t = |test: &str| actions(&format!("if {test} {{ discard; }}"), msg) == ["discard"];
    assert!(t(r#"address :is :all "from" "tim@example.com""#));
    assert!(t(r#"address :is :localpart "from" "tim""#));
    assert!(t(r#"address :is :domain "from" "EXAMPLE.com""#));
    assert!(t(r#"address :is "from" "tim@example.com""#));
    assert!(!t(r#"address :is "from" "Tim""#));
    assert!(t(r#"address :is :domain "cc" "y.example""#));
    assert!(t(r#"address :is :domain "cc" "z.example""#));
}

/// RFC 5228 §5.4: envelope.
#[test]
fn envelope_test() {
    let script = r#"require "envelope";
        if envelope :all :is "from" "tim@example.com" { discard; }"#;
    assert_eq!(actions(script, "From: tim@example.com\n\nx"), ["discard"]);
    assert_eq!(
        actions(script, "From: tom@example.com\n\nx"),
        ["implicit-keep"]
    );
    let domain = r#"require "envelope";
        if envelope :domain :is "to" "example.com" { discard; }"#;
    assert_eq!(
        actions(domain, "From: a@b.c\nTo: me@example.com\n\nx"),
        ["discard"]
    );
}

/// RFC 5228 §2.4.2: multi-line strings and escapes reach the actions intact.
#[test]
fn strings_reach_actions() {
    let script = "require \"reject\";\nreject text:\nI don't want this.\n..and a dot line\n.\n;";
    assert_eq!(
        actions(script, "Subject: x\n\nx"),
        ["reject I don't want this.\r\n.and a dot line\r\n"]
    );
    let script = "require \"fileinto\"; fileinto \"a\\\"b\\\\c\";";
    assert_eq!(actions(script, "Subject: x\n\nx"), ["fileinto a\"b\\c"]);
}

/// RFC 5228 §2.7.2: header values are compared decoded (RFC 2047), whatever the charset.
#[test]
fn encoded_korean_subjects_match() {
    let script =
        r#"require "fileinto"; if header :contains "subject" "보고서" { fileinto "Reports"; }"#;
    let utf8 = "Subject: =?UTF-8?B?7KO86rCEIOuztOqzoOyEnCDsoJzstpw=?=\n\nx";
    assert_eq!(actions(script, utf8), ["fileinto Reports"]);
    let euc_kr = "Subject: =?EUC-KR?B?uriw7byt?= 11월\n\nx";
    assert_eq!(actions(script, euc_kr), ["fileinto Reports"]);
    let raw_utf8 = "Subject: 월간 보고서\n\nx";
    assert_eq!(actions(script, raw_utf8), ["fileinto Reports"]);
    let other = "Subject: =?UTF-8?B?7JWI64WV?=\n\nx";
    assert_eq!(actions(script, other), ["implicit-keep"]);
}

/// RFC 5228 §4.2 allows only one answer to a message: reject and keep clash.
#[test]
fn reject_with_keep_is_an_error() {
    let e = eval(
        "require \"reject\"; keep; reject \"no\";",
        "Subject: x\n\nx",
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot be used together"), "{e}");
    let ok = actions("require \"reject\"; reject \"no\";", "Subject: x\n\nx");
    assert_eq!(ok, ["reject no"]);
}

/// RFC 5228 §4.2: a redirect address built from variables is checked when it is known.
#[test]
fn expanded_redirect_address_is_checked() {
    let script = r#"require "variables"; set "to" "a@b.example>, c@d.example"; redirect "${to}";"#;
    let e = eval(script, "Subject: x\n\nx").unwrap_err();
    assert!(matches!(e, certmail_sieve::Error::BadAddress { .. }), "{e}");
}

/// RFC 5228 §2.4.2.4: encoded characters, decoded at compile time.
#[test]
fn encoded_characters() {
    let script = r#"require ["encoded-character", "fileinto"];
        if header :contains "subject" "${unicode:bcf4 ace0 c11c}" {
            fileinto "${hex:52 65 70 6f 72 74 73}";
        }"#;
    assert_eq!(
        actions(script, "Subject: 월간 보고서\n\nx"),
        ["fileinto Reports"]
    );
    // Without the require, the text stays as written.
    let plain = r#"require "fileinto"; fileinto "${hex:41}";"#;
    assert_eq!(actions(plain, "Subject: x\n\nx"), ["fileinto ${hex:41}"]);
}
