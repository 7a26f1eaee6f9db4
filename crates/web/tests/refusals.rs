//! Every refusal: the certificate (the same codes and sentences as the IMAP refusal),
//! CSRF, limits, and the HTML pages' answers.

mod common;

use common::{PASSWORD, Web, material};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_refusals_have_the_imap_codes() {
    let web = Web::start().await;
    let m = material();
    let cases = [
        (None, 401, "no_certificate"),
        (Some(&m.npki), 403, "npki_certificate"),
        (Some(&m.foreign), 403, "unknown_issuer"),
        (Some(&m.expired), 403, "certificate_expired"),
        (Some(&m.revoked), 403, "certificate_revoked"),
    ];
    for (cert, status, code) in cases {
        let client = web.client(cert);
        let r = client.get("/api/me").await;
        assert_eq!((r.status, r.code().as_str()), (status, code), "{r:?}");
        // The sentence is the one IMAP sends with its NO.
        let expected = web
            .pki
            .check(cert.map(|c| c.cert_der.as_slice()), certmail_auth::now())
            .expect_err("refused");
        assert_eq!(
            r.json()["message"].as_str(),
            Some(expected.message.as_str())
        );
        // Sign-up is refused the same way, and so is the HTML page (with the code shown).
        let r = client.post("/api/signup", json!({"id": "x", "address": "x@example.go.kr", "organisation": "통계청", "password": "Blue-Sky-2026!"})).await;
        assert_eq!(r.code(), code, "{r:?}");
        let page = client.get("/").await;
        assert_eq!(page.status, status, "{page:?}");
        assert!(
            page.body.contains(code) && page.body.contains("<html lang=\"ko\""),
            "{}",
            page.body
        );
    }
    let npki = web.client(Some(&m.npki)).get("/api/me").await;
    assert!(
        npki.json()["message"]
            .as_str()
            .expect("msg")
            .contains("GPKI"),
        "{npki:?}"
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_and_originless_changes_are_refused() {
    let web = Web::start().await;
    let mut kim = web.client(Some(&material().kim));
    kim.origin = Some("https://evil.example".into());
    let r = kim.change_password(PASSWORD, "Another-Good-99").await;
    r.assert_refused(403, "cross_origin", "");
    let r = kim
        .form(
            "/password",
            &[("current", PASSWORD), ("new", "Another-Good-99")],
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("cross_origin"), "an HTML page: {}", r.body);
    kim.origin = None;
    let r = kim.open_session(PASSWORD).await;
    r.assert_refused(403, "cross_origin", "");
    // Reading needs no Origin.
    assert_eq!(kim.get("/api/me").await.status, 200);
    // Nothing changed.
    kim.origin = Some(web.url.clone());
    assert_eq!(kim.open_session(PASSWORD).await.status, 200);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_token_is_refused() {
    let web = Web::start().await;
    let kim = web.client(Some(&material().kim));
    let r = kim
        .form(
            "/password",
            &[
                ("csrf", "00"),
                ("current", PASSWORD),
                ("new", "Another-Good-99"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("bad_form_token"), "{}", r.body);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_count_toward_the_lockout() {
    let web = Web::start_with(|p| p.lockout_threshold = 3).await;
    let kim = web.client(Some(&material().kim));
    for _ in 0..3 {
        let r = kim.open_session("Wrong-Password-1").await;
        assert_eq!(r.code(), "bad_password", "{r:?}");
    }
    let r = kim.get("/api/me").await;
    r.assert_refused(403, "account_locked", "");
    let log = web.store.audit_by_account("kim", 50).await.expect("audit");
    let refused = log.iter().filter(|e| e.kind == "sign_in_refused").count();
    assert!(refused >= 3, "{log:?}");
    assert!(
        log.iter()
            .any(|e| e.fields.get("protocol").map(String::as_str) == Some("web"))
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_is_void_with_another_certificate() {
    let web = Web::start().await;
    let m = material();
    let kim = web.client(Some(&m.kim));
    assert_eq!(kim.open_session(PASSWORD).await.status, 200);
    assert_eq!(
        kim.get("/api/devices").await.status,
        200,
        "the cookie works with its certificate"
    );
    let jar = std::fs::read_to_string(&kim.jar).expect("jar");
    // The same person's second certificate (bound to the same account) and another
    // person's certificate: the cookie is void with both.
    let now = certmail_auth::now();
    certmail_auth::bind_certificate(
        web.store.as_ref(),
        &web.pki,
        "kim",
        &m.kim_second.cert_der,
        now,
    )
    .await
    .expect("store")
    .expect("bound");
    for other in [&m.kim_second, &m.park] {
        let client = web.client(Some(other));
        std::fs::write(&client.jar, &jar).expect("copy the cookie");
        let r = client.get("/api/devices").await;
        r.assert_refused(401, "password_required", "");
    }
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_bodies_and_floods_are_refused() {
    let web = Web::start().await;
    let kim = web.client(Some(&material().kim));
    let big = "x".repeat(40_000);
    let r = kim.change_password(&big, "y").await;
    assert_eq!(r.status, 413, "{r:?}");
    let mut last = 0;
    for _ in 0..250 {
        last = kim.get("/style.css").await.status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "the per-IP rate limit");
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_is_in_the_audit_log() {
    let web = Web::start().await;
    // Plain HTTP on the HTTPS port: no page can be sent; the audit log says why.
    let plain = web.url.replace("https://", "http://");
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", &format!("{plain}/api/me")])
        .output()
        .await
        .expect("curl runs");
    assert!(!out.status.success());
    let mut found = false;
    for _ in 0..50 {
        let log = web
            .store
            .audit_newest(0, i64::MAX, 100)
            .await
            .expect("audit");
        found = log.iter().any(|e| {
            e.kind == "tls_handshake_failed"
                && e.fields.get("listener").map(String::as_str) == Some("web")
        });
        if found {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "tls_handshake_failed recorded");
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_pages_speak_english_when_asked_and_api_404s_are_json() {
    let web = Web::start().await;
    let mut anonymous = web.client(None);
    anonymous.lang = Some("en-GB,en;q=0.8,ko;q=0.5".into());
    let page = anonymous.get("/").await;
    assert_eq!(page.status, 401, "{page:?}");
    assert!(
        page.body.contains("lang=\"en\"") && page.body.contains("no_certificate"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("role=\"alert\""),
        "announced to screen readers"
    );
    let r = web
        .client(Some(&material().kim))
        .get("/api/nothing-here")
        .await;
    r.assert_refused(404, "not_found", "");
    web.stop().await;
}
