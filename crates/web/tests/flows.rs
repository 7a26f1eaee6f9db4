//! The person's flows of issue 16 over real HTTPS with a real client (curl) and real
//! certificates: summary, password (also expired), TOTP, devices, access record, live
//! session, renewal; sign-up and the admin flows are in admin.rs.

mod common;

use common::{PASSWORD, Web, material, totp_code, totp_code_at};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_needs_the_certificate_only() {
    let web = Web::start().await;
    let r = web.client(Some(&material().kim)).get("/api/me").await;
    assert_eq!(r.status, 200, "{r:?}");
    let me = r.json();
    assert_eq!(me["id"], "kim");
    assert_eq!(me["name"], "김철수");
    assert_eq!(me["organisation"], "통계청");
    assert_eq!(me["addresses"], json!(["kim@example.go.kr"]));
    assert_eq!(me["totp"], false);
    assert!(me["password_expires_at"].as_i64().is_some());
    let keys: Vec<_> = me.as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys.len(), 6, "nothing more: {keys:?}");
    for h in [
        "strict-transport-security",
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(r.header(h).is_some(), "{h} missing: {}", r.headers);
    }
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert!(
        r.header("content-security-policy")
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_and_the_rules() {
    let web = Web::start().await;
    let kim = web.client(Some(&material().kim));
    let r = kim.change_password(PASSWORD, "short").await;
    r.assert_refused(400, "weak_password", "");
    assert!(
        r.json()["message"]
            .as_str()
            .expect("msg")
            .contains("at least 10"),
        "{r:?}"
    );
    let r = kim
        .change_password("Wrong-Password-1", "Another-Good-99")
        .await;
    r.assert_refused(401, "bad_password", "");
    let r = kim.change_password(PASSWORD, "Another-Good-99").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = kim.open_session(PASSWORD).await;
    r.assert_refused(401, "bad_password", "the old password is gone");
    let r = kim.open_session("Another-Good-99").await;
    assert_eq!(r.status, 200, "{r:?}");
    let account = web.account("kim").await;
    assert_eq!(account.failed_logins, 0);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_password_is_changed_on_the_web() {
    let web = Web::start().await;
    let mut a = web.account("kim").await;
    a.password_set_at = Some(certmail_auth::now() - 200 * common::DAY);
    web.store.update_account(a).await.expect("store");
    let kim = web.client(Some(&material().kim));
    let r = kim.open_session(PASSWORD).await;
    r.assert_refused(403, "password_expired", "");
    let r = kim.change_password(PASSWORD, "Renewed-Pass-31").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = kim.open_session("Renewed-Pass-31").await;
    assert_eq!(r.status, 200, "{r:?}");
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_enrol_confirm_then_required_on_a_new_device() {
    let web = Web::start().await;
    let kim = web.client(Some(&material().kim));
    let r = kim
        .post("/api/totp/enroll", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let offer = r.json();
    let uri = offer["otpauth_uri"].as_str().expect("uri").to_string();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(offer["qr_svg"].as_str().expect("svg").contains("<svg"));
    let r = kim
        .post(
            "/api/totp/confirm",
            json!({"password": PASSWORD, "code": "000000"}),
        )
        .await;
    r.assert_refused(401, "totp_invalid", "");
    let r = kim
        .post(
            "/api/totp/confirm",
            json!({"password": PASSWORD, "code": totp_code(&uri)}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(kim.get("/api/me").await.json()["totp"], true);
    // The device that confirmed is trusted; a forgotten (so new) device needs a code.
    assert_eq!(kim.open_session(PASSWORD).await.status, 200);
    let id = kim.get("/api/devices").await.json()["devices"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        kim.delete(&format!("/api/devices/{id}"), None).await.status,
        200
    );
    let r = kim.open_session(PASSWORD).await;
    r.assert_refused(401, "totp_required", "");
    let next = totp_code_at(&uri, 1);
    let r = kim
        .post("/api/session", json!({"password": PASSWORD, "totp": next}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Regenerate (enrol again), then disable with the password and a current code.
    let r = kim.post("/api/totp/enroll", json!({})).await;
    assert_eq!(r.status, 200, "the session authorizes: {r:?}");
    let r = kim
        .post(
            "/api/totp/disable",
            json!({"password": "Not-The-Password-1", "code": next}),
        )
        .await;
    r.assert_refused(401, "bad_password", "");
    let r = kim
        .post(
            "/api/totp/disable",
            json!({"password": PASSWORD, "code": next}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(kim.get("/api/me").await.json()["totp"], false);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_signins_and_the_live_session() {
    let web = Web::start().await;
    let kim = web.client(Some(&material().kim));
    assert_eq!(kim.open_session(PASSWORD).await.status, 200);
    let r = kim.get("/api/devices").await;
    assert_eq!(r.status, 200, "{r:?}");
    let list = r.json()["devices"].as_array().expect("list").clone();
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_str().expect("id").to_string();
    assert!(id.ends_with("@127.0.0.0/24"), "{id}");
    assert!(
        list[0]["certificate"]
            .as_str()
            .expect("subject")
            .contains("김철수")
    );
    let r = kim.get("/api/signins").await;
    assert_eq!(r.status, 200, "{r:?}");
    let kinds: Vec<_> = r.json()["signins"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(kinds.contains(&"sign_in_ok".to_string()), "{kinds:?}");
    let r = kim.get("/api/session").await;
    assert_eq!((r.status, r.json()["live"].is_null()), (200, true), "{r:?}");
    let r = kim.post("/api/session/end", json!({})).await;
    assert_eq!(
        (r.status, r.json()["ended_connections"].as_u64()),
        (200, Some(0)),
        "{r:?}"
    );
    let r = kim.delete(&format!("/api/devices/{id}"), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = kim.get("/api/devices").await;
    assert_eq!(
        r.json()["devices"].as_array().map(Vec::len),
        Some(0),
        "{r:?}"
    );
    let r = kim.delete("/api/devices/ffffffff@10.0.0.0/24", None).await;
    r.assert_refused(404, "not_found", "");
    let r = kim.delete("/api/session", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = kim.get("/api/devices").await;
    r.assert_refused(401, "password_required", "signed out");
    web.stop().await;
}

/// IMAP LOGIN's decision (`certmail_auth::signin::sign_in` with protocol IMAP) for `kim`.
async fn imap_login(web: &Web, password: &str) -> Result<(), String> {
    use certmail_auth::signin::{Attempt, Credentials, Protocol, sign_in};
    let attempt = Attempt {
        cert_der: Some(&material().kim.cert_der),
        credentials: Credentials::Password {
            user: "kim".into(),
            password: certmail_auth::Secret::new(password.into()),
        },
        ip: [127, 0, 0, 1].into(),
        protocol: Protocol::Imap,
        now: certmail_auth::now(),
    };
    let policy = certmail_auth::signin::SignInPolicy::default();
    match sign_in(web.store.as_ref(), &web.pki, &policy, attempt)
        .await
        .expect("decided")
    {
        Ok(_) => Ok(()),
        Err(r) => Err(r.reason.code().to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_takes_the_password_changed_on_the_web() {
    let web = Web::start().await;
    let mut a = web.account("kim").await;
    a.password_set_at = Some(certmail_auth::now() - 200 * common::DAY);
    web.store.update_account(a).await.expect("store");
    assert_eq!(
        imap_login(&web, PASSWORD).await,
        Err("password_expired".into())
    );
    let kim = web.client(Some(&material().kim));
    let r = kim.change_password(PASSWORD, "Renewed-Pass-31").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(imap_login(&web, "Renewed-Pass-31").await, Ok(()));
    assert_eq!(imap_login(&web, PASSWORD).await, Err("bad_password".into()));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_bound_with_the_password() {
    let web = Web::start().await;
    let m = material();
    let renewed = web.client(Some(&m.kim_second));
    let r = renewed.get("/api/me").await;
    assert_eq!(r.code(), "certificate_not_bound", "{r:?}");
    let r = renewed
        .post("/api/renew", json!({"password": "Wrong-Password-1"}))
        .await;
    r.assert_refused(401, "bad_password", "");
    assert_eq!(
        renewed.get("/api/me").await.code(),
        "certificate_not_bound",
        "unbound again"
    );
    let r = renewed
        .post("/api/renew", json!({"password": PASSWORD}))
        .await;
    assert_eq!(
        (r.status, r.json()["bound_to"].as_str()),
        (200, Some("kim")),
        "{r:?}"
    );
    assert_eq!(renewed.get("/api/me").await.json()["id"], "kim");
    assert_eq!(
        web.client(Some(&m.kim)).get("/api/me").await.status,
        200,
        "the old one is kept"
    );
    // Another person's certificate finds no account of theirs.
    let r = web
        .client(Some(&m.lee))
        .post("/api/renew", json!({"password": PASSWORD}))
        .await;
    r.assert_refused(404, "certificate_not_bound", "");
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_temporary_password_cannot_be_changed() {
    let web = Web::start().await;
    let mut a = web.account("kim").await;
    a.password_temporary = true;
    a.password_set_at = Some(certmail_auth::now() - 5 * common::DAY);
    web.store.update_account(a).await.expect("store");
    let kim = web.client(Some(&material().kim));
    let r = kim.change_password(PASSWORD, "Renewed-Pass-31").await;
    r.assert_refused(403, "temporary_password_expired", "");
    web.stop().await;
}
