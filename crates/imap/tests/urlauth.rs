//! URLAUTH (RFC 4467) against the in-process server: GENURLAUTH, URLFETCH and RESETKEY as
//! imaptest's `urlauth` and `urlauth2` groups use them, the access identifiers, expiry,
//! and every refusal with the sentence the user reads.

mod common;

use certmail_imap::commands::urlauth::{Denied, authorized};
use certmail_store::Account;
use common::*;

/// The one `* GENURLAUTH "url"` line's URL.
fn signed(lines: Vec<String>) -> String {
    let lines = ok(lines);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let url = lines[0]
        .strip_prefix("* GENURLAUTH \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not one GENURLAUTH URL: {lines:?}"));
    url.to_owned()
}

/// Signs `rump` and returns the full URL.
async fn sign(c: &mut Client, rump: &str) -> String {
    signed(c.command(&format!("GENURLAUTH \"{rump}\" INTERNAL")).await)
}

/// hong's INBOX with two messages; a signed-in client.
async fn two_messages(server: &TestServer) -> Client {
    let mut c = server.signed_in().await;
    for (subject, body) in [("보고서", "첫 번째 본문"), ("회의", "두 번째 본문")] {
        assert!(
            append(&mut c, "INBOX", "", &message(subject, body))
                .await
                .contains("OK")
        );
    }
    c
}

fn rump(uid: u32, access: &str) -> String {
    format!("imap://hong@mail.test.go.kr/INBOX/;uid={uid};urlauth={access}")
}

/// imaptest `urlauth`: GENURLAUTH, URLFETCH gives BODY[], RESETKEY makes it NIL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urlfetch_gives_the_message_until_resetkey() {
    let server = TestServer::start(true).await;
    let mut c = two_messages(&server).await;
    let caps = c.command("CAPABILITY").await.join(" ");
    assert!(caps.contains(" URLAUTH"), "{caps}");
    let url = sign(&mut c, &rump(1, "user+hong")).await;
    assert!(
        url.starts_with(&format!("{}:internal:", rump(1, "user+hong"))),
        "{url}"
    );
    let fetched = ok(c.command(&format!("URLFETCH {url}")).await);
    let body = message("보고서", "첫 번째 본문");
    let expected = format!("* URLFETCH \"{url}\" {{{}}}\r\n{body}", body.len());
    assert_eq!(fetched, [expected.trim_end_matches("\r\n")]);
    // The same key signs every URL of the mailbox: a second URL, the same token scheme.
    let second = sign(&mut c, &rump(2, "user+hong")).await;
    let both = ok(c.command(&format!("URLFETCH {url} \"{second}\"")).await);
    assert_eq!(both.len(), 2);
    assert!(both[1].contains("두 번째 본문"), "{both:?}");
    let reset = c.command("RESETKEY INBOX INTERNAL").await;
    assert_tagged(&reset, "a");
    assert!(
        tagged(&reset).contains("OK [URLMECH INTERNAL] RESETKEY completed"),
        "{reset:?}"
    );
    let after = c.command(&format!("URLFETCH {url}")).await;
    assert_eq!(after[0], format!("* URLFETCH \"{url}\" NIL"));
    assert!(
        tagged(&after).ends_with(
            "OK URLFETCH completed; NIL for one URL: its access key was reset (RESETKEY)"
        ),
        "{after:?}"
    );
    // A new URL gets a new key; the old one stays dead.
    let fresh = sign(&mut c, &rump(1, "user+hong")).await;
    assert_ne!(fresh, url);
    let lines = ok(c.command(&format!("URLFETCH {fresh} {url}")).await);
    assert!(
        lines[0].contains("첫 번째 본문") && lines[1].ends_with(" NIL"),
        "{lines:?}"
    );
    // RESETKEY alone forgets every key of the user.
    ok(c.command("RESETKEY").await);
    assert!(ok(c.command(&format!("URLFETCH {fresh}")).await)[0].ends_with(" NIL"));
}

/// A URL whose text was changed after signing (another message, another section, another
/// access) has a token that no longer matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_url_is_nil_with_the_reason() {
    let server = TestServer::start(true).await;
    let mut c = two_messages(&server).await;
    let url = sign(&mut c, &rump(1, "user+hong")).await;
    for changed in [
        url.replace("uid=1", "uid=2"),
        url.replace("user+hong", "authuser"),
    ] {
        let lines = c.command(&format!("URLFETCH \"{changed}\"")).await;
        assert_eq!(lines[0], format!("* URLFETCH \"{changed}\" NIL"));
        assert!(
            tagged(&lines).contains("its token does not match"),
            "{lines:?}"
        );
    }
    let bare = rump(1, "user+hong");
    let lines = c.command(&format!("URLFETCH \"{bare}\"")).await;
    assert!(
        tagged(&lines).contains("NIL for one URL: it is not a URLAUTH URL"),
        "{lines:?}"
    );
}

/// `;EXPIRE=` in the past: NIL, "it has expired"; in the future: served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_urls_are_nil() {
    let server = TestServer::start(true).await;
    let mut c = two_messages(&server).await;
    let past = "imap://hong@h/INBOX/;uid=1;expire=2020-01-01T00:00:00Z;urlauth=anonymous";
    let url = sign(&mut c, past).await;
    let lines = c.command(&format!("URLFETCH {url}")).await;
    assert!(lines[0].ends_with(" NIL"), "{lines:?}");
    assert!(
        tagged(&lines).ends_with("NIL for one URL: it has expired"),
        "{lines:?}"
    );
    let future = "imap://hong@h/INBOX/;uid=1;EXPIRE=2099-01-01T09:00:00+09:00;URLAUTH=anonymous";
    let url = sign(&mut c, future).await;
    assert!(ok(c.command(&format!("URLFETCH {url}")).await)[0].contains("첫 번째 본문"));
}

/// GENURLAUTH refuses with a code and a sentence: a URL in another user's name, a mailbox
/// that does not exist, a mechanism other than INTERNAL, a URL that is no URLAUTH rump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genurlauth_refusals_say_why() {
    let server = TestServer::start(true).await;
    let mut c = two_messages(&server).await;
    let kims = "imap://kim@h/INBOX/;uid=1;urlauth=authuser";
    let lines = c.command(&format!("GENURLAUTH \"{kims}\" INTERNAL")).await;
    assert!(
        tagged(&lines).ends_with(
            "NO [NOPERM] The URL is in the name of kim; you can sign URLs in your own name (hong) only"
        ),
        "{lines:?}"
    );
    let nowhere = "imap://hong@h/%EC%97%86%EC%9D%8C/;uid=1;urlauth=authuser";
    let lines = c
        .command(&format!("GENURLAUTH \"{nowhere}\" INTERNAL"))
        .await;
    assert!(
        tagged(&lines).ends_with(&format!(
            "NO [BADURL {nowhere}] The URL's mailbox does not exist or you cannot read it"
        )),
        "{lines:?}"
    );
    let lines = c
        .command(&format!("GENURLAUTH \"{}\" XSECRET", rump(1, "authuser")))
        .await;
    assert!(
        tagged(&lines).ends_with(
            "NO [CANNOT] XSECRET is not offered; the only URLAUTH mechanism is INTERNAL"
        ),
        "{lines:?}"
    );
    let lines = c
        .command("GENURLAUTH \"imap://hong@h/INBOX/;uid=1\" INTERNAL")
        .await;
    assert!(
        tagged(&lines).contains("NO [BADURL imap://hong@h/INBOX/;uid=1] The URL has no ;URLAUTH="),
        "{lines:?}"
    );
    let lines = c.command("RESETKEY Nowhere").await;
    assert!(tagged(&lines).contains("NO [NONEXISTENT]"), "{lines:?}");
}

/// The access identifiers (RFC 4467 §3), checked for another signed-in user (김철수) and
/// for the submission server: `authuser` and `anonymous` admit kim; `user+hong` does
/// not; `submit+hong` only the submission server sending for hong. A URL in kim's name
/// cannot borrow hong's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_identifiers_admit_whom_they_name() {
    let server = TestServer::start(true).await;
    let mut c = two_messages(&server).await;
    let store = server.ctx.store.as_ref();
    let kim = Account::new(
        "kim",
        "김철수",
        vec!["kim@test.go.kr".into()],
        1_700_000_000,
    );
    store.create_account(kim.clone()).await.unwrap();
    let hong = store.account("hong").await.unwrap().unwrap();
    let now = 1_800_000_000;
    let nil = |r: Result<Vec<u8>, Denied>| match r {
        Err(Denied::Why(why)) => why,
        other => panic!("expected NIL, got {other:?}"),
    };
    for access in ["authuser", "anonymous"] {
        let url = sign(&mut c, &rump(1, access)).await;
        let got = authorized(store, &kim, false, &url, now).await.unwrap();
        assert!(String::from_utf8_lossy(&got).contains("첫 번째 본문"));
    }
    let url = sign(&mut c, &rump(1, "user+hong")).await;
    let why = nil(authorized(store, &kim, false, &url, now).await);
    assert_eq!(why, "its access identifier names another user");
    assert!(authorized(store, &hong, false, &url, now).await.is_ok());
    let submit = sign(&mut c, &rump(2, "submit+hong")).await;
    assert!(authorized(store, &hong, true, &submit, now).await.is_ok());
    let why = nil(authorized(store, &hong, false, &submit, now).await);
    assert!(why.contains("submission server"), "{why}");
    assert!(authorized(store, &kim, true, &submit, now).await.is_err());
    // Over IMAP, hong's own submit+ URL is NIL too: an IMAP session is no submission server.
    let lines = c.command(&format!("URLFETCH {submit}")).await;
    assert!(
        lines[0].ends_with(" NIL") && tagged(&lines).contains("submit+"),
        "{lines:?}"
    );
    // kim's name on hong's token: kim has no key for the mailbox (and no INBOX of hong's).
    let borrowed = url.replace("imap://hong@", "imap://kim@");
    assert!(
        authorized(store, &kim, false, &borrowed, now)
            .await
            .is_err()
    );
    // hong's key, once reset, serves nobody.
    store.reset_urlauth_keys("hong", None).await.unwrap();
    let why = nil(authorized(store, &hong, false, &url, now).await);
    assert_eq!(why, "its access key was reset (RESETKEY)");
}
