//! Known answers from the RFC examples, and refusals.

use super::*;

fn body(input: &str) -> ExtBody {
    assert!(claims(input.as_bytes()), "not claimed: {input}");
    parse(input.as_bytes()).expect(input).body
}

fn list(input: &str) -> ListRequest {
    match body(input) {
        ExtBody::List(l) => l,
        other => panic!("not LIST: {other:?}"),
    }
}

#[test]
fn claims_only_the_forms_we_parse() {
    assert!(claims(b"a LIST \"\" *\r\n"));
    assert!(claims(b"a list (SUBSCRIBED) \"\" *\r\n"));
    assert!(claims(b"a CREATE {3}\r\n"));
    assert!(claims(b"a SEARCH RETURN (MIN) ALL\r\n"));
    assert!(claims(b"a uid search return () ALL\r\n"));
    assert!(!claims(b"a SEARCH ALL\r\n"));
    // A literal could hide a `$` (RFC 5182): collected whole, then handed to imap-codec.
    assert!(claims(b"a SEARCH SUBJECT {3}\r\n"));
    assert!(claims(b"a UID SEARCH CHARSET UTF-8 TEXT {6+}\r\n"));
    assert!(matches!(
        parse("a SEARCH SUBJECT {3}\r\nabc ALL\r\n".as_bytes()).map(|c| c.body),
        Ok(ExtBody::Standard(_))
    ));
    assert!(!claims(b"a UID SEARCH ALL\r\n"));
    assert!(!claims(b"a LSUB \"\" *\r\n"));
    assert!(!claims(b"a LISTX\r\n"));
    assert!(!claims(b"DONE\r\n"));
}

#[test]
fn rfc4731_search_return_examples() {
    // RFC 4731 §3.1 examples.
    let ExtBody::Search(s) =
        body("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n")
    else {
        panic!("not SEARCH")
    };
    assert!(!s.uid && s.options.min && s.options.count && !s.options.all);
    assert_eq!(s.criteria.as_ref().len(), 3);
    let ExtBody::Search(s) =
        body("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n")
    else {
        panic!("not SEARCH")
    };
    assert!(s.options.all, "RETURN () means ALL");
    let ExtBody::Search(s) =
        body("A301 UID SEARCH RETURN (COUNT) CHARSET UTF-8 SUBJECT {6}\r\n홍길\r\n")
    else {
        panic!("not SEARCH")
    };
    assert!(s.uid && s.options.count && s.charset.is_some());
    // RFC 5182 §2.1: SAVE alone returns nothing, so it is not widened to ALL.
    let ExtBody::Search(s) = body("A1 UID SEARCH RETURN (SAVE) ALL\r\n") else {
        panic!("not SEARCH")
    };
    assert!(s.options.save && !s.options.all);
}

#[test]
fn rfc5258_list_examples() {
    // RFC 5258 §6 examples 3, 5, 6, 7, 8, 9.
    let l = list("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n");
    assert!(l.selection.subscribed && l.extended);
    assert_eq!(l.patterns, [b"*".to_vec()]);
    let l = list("A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert!(l.selection.recursive_match && l.returns.children);
    let l = list("A05 LIST \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert!(l.returns.children && l.extended);
    let l = list("A06 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n");
    assert!(l.selection.remote);
    let l = list("A07 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n");
    assert_eq!(l.patterns.len(), 3);
    assert_eq!(l.patterns[2], b"Sent/%");
    let l = list("BBB LIST () \"\" \"%\"\r\n");
    assert!(l.extended && l.selection == ListSelection::default());
    let l = list("a LIST \"\" *\r\n");
    assert!(!l.extended && l.reference.is_empty());
}

#[test]
fn rfc5819_and_6154_list_options() {
    let l = list("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n");
    assert_eq!(
        l.returns.status,
        Some(vec![
            StatusDataItemName::Messages,
            StatusDataItemName::Unseen
        ])
    );
    let l = list("t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n");
    assert!(l.selection.special_use);
    let l = list("t3 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n");
    assert!(l.returns.special_use);
    let l = list("a LIST \"\" {6}\r\n보관\r\n");
    assert_eq!(l.patterns, ["보관".as_bytes().to_vec()]);
}

#[test]
fn rfc6154_create_use() {
    let ExtBody::Create(c) = body("t1 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n") else {
        panic!("not CREATE")
    };
    assert_eq!(c.mailbox, b"MySpecial");
    assert_eq!(c.special_use, ["\\Drafts", "\\Sent"]);
    let ExtBody::Create(c) = body("t2 CREATE \"임시 보관함\"\r\n") else {
        panic!("not CREATE")
    };
    assert!(c.special_use.is_empty());
    assert_eq!(c.mailbox, "임시 보관함".as_bytes());
}

#[test]
fn refuses_what_the_abnf_does_not_allow() {
    for bad in [
        "a LIST (RECURSIVEMATCH) \"\" *\r\n",
        "a LIST (FOO) \"\" *\r\n",
        "a LIST \"\" * RETURN (BAR)\r\n",
        "a LIST \"\" ()\r\n",
        "a LIST \"\"  *\r\n",
        "a LIST \"\" *\r\nextra",
        "a LIST \"\" {10}\r\nabc\r\n",
        "a LIST \"\" \"unterminated\r\n",
        "a CREATE x (FOO (bar))\r\n",
        "a CREATE x (USE (Drafts))\r\n",
        "a SEARCH RETURN (PARTIAL) ALL\r\n",
        "a SEARCH RETURN (MIN) NOTAKEY\r\n",
        "a SEARCH RETURN (MIN)\r\n",
        "+ LIST \"\" *\r\n",
    ] {
        assert!(parse(bad.as_bytes()).is_err(), "accepted: {bad:?}");
    }
}

#[test]
fn rfc4467_urlauth_commands() {
    // RFC 4467 §6.1's example, and two pairs.
    let url = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred";
    assert_eq!(
        body(&format!("a GENURLAUTH \"{url}\" INTERNAL\r\n")),
        ExtBody::GenUrlAuth(vec![(url.into(), "INTERNAL".into())])
    );
    let two = body(&format!(
        "a genurlauth {url} internal \"{url}\" INTERNAL\r\n"
    ));
    assert!(matches!(two, ExtBody::GenUrlAuth(pairs) if pairs.len() == 2));
    assert_eq!(
        body("a RESETKEY\r\n"),
        ExtBody::ResetKey(urlauth::ResetKey {
            mailbox: None,
            mechanisms: vec![]
        })
    );
    assert_eq!(
        body("a RESETKEY \"Other Users/kim/Team\" INTERNAL\r\n"),
        ExtBody::ResetKey(urlauth::ResetKey {
            mailbox: Some("Other Users/kim/Team".into()),
            mechanisms: vec!["INTERNAL".into()]
        })
    );
    let full = format!("{url}:internal:{}", "0a".repeat(16));
    let fetched = body(&format!(
        "a URLFETCH {full} ({full} BINARY BODYPARTSTRUCTURE) \"{full}\"\r\n"
    ));
    let ExtBody::UrlFetch(urls) = fetched else {
        panic!("not URLFETCH: {fetched:?}");
    };
    assert_eq!(urls.len(), 3);
    assert!(urls.iter().all(|u| u.url == full));
    assert_eq!(urls[0].extended, None);
    let parts = urls[1].extended.clone().unwrap();
    assert!(parts.binary && parts.structure && !parts.body);
    for bad in [
        "a GENURLAUTH\r\n",
        "a GENURLAUTH imap://x@y/INBOX/;uid=1;urlauth=anonymous\r\n",
        "a URLFETCH\r\n",
        "a URLFETCH (imap://x BODY BINARY)\r\n",
        "a URLFETCH (imap://x HEADER)\r\n",
        "a RESETKEY INBOX \r\n",
    ] {
        assert!(claims(bad.as_bytes()), "{bad}");
        assert!(parse(bad.as_bytes()).is_err(), "{bad}");
    }
}
