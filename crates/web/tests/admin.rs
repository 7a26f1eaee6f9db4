//! Sign-up and the org admin's work over real HTTPS: approval, refusal, unlock,
//! temporary password, disable, the organisation's record, and its scope.

mod common;

use common::{PASSWORD, Web, material};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_refuses_unlocks_and_issues_a_temporary_password() {
    let web = Web::start().await;
    let m = material();
    let lee = web.client(Some(&m.lee));
    let body = json!({"id": "lee", "address": "lee@example.go.kr", "organisation": "통계청", "password": "Blue-Sky-2026!"});
    assert_eq!(lee.post("/api/signup", body).await.status, 201);
    let park = web.client(Some(&m.park));
    let r = park
        .post(
            "/api/admin/refuse/lee",
            json!({"password": PASSWORD, "reason": "not our staff"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(web.store.account("lee").await.expect("store").is_none());
    let r = park.admin("unlock", "kim").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = park.admin("password", "kim").await;
    assert_eq!(r.status, 200, "{r:?}");
    let temporary = r.json()["temporary_password"]
        .as_str()
        .expect("issued")
        .to_string();
    // kim changes the temporary password on the web (while it is valid).
    let kim = web.client(Some(&m.kim));
    let r = kim.change_password(&temporary, "Fresh-Start-77").await;
    assert_eq!(r.status, 200, "{r:?}");
    // park is an admin of 통계청, not of the EPKI organisation.
    let r = park.admin("unlock", "hong").await;
    r.assert_refused(403, "outside_organisation", "");
    // kim is not an admin at all.
    let r = kim
        .post(
            "/api/admin/approve/park",
            json!({"password": "Fresh-Start-77"}),
        )
        .await;
    r.assert_refused(403, "not_org_admin", "");
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_admin_disables_and_reads_the_organisations_record() {
    let web = Web::start().await;
    let m = material();
    assert_eq!(
        web.client(Some(&m.kim)).open_session(PASSWORD).await.status,
        200
    );
    let park = web.client(Some(&m.park));
    assert_eq!(park.open_session(PASSWORD).await.status, 200);
    let r = park.get("/api/admin/signins").await;
    assert_eq!(r.status, 200, "{r:?}");
    let accounts: Vec<String> = r.json()["signins"]
        .as_array()
        .expect("list")
        .iter()
        .map(|l| l["account"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(accounts.contains(&"kim".to_string()), "{accounts:?}");
    assert!(
        !accounts.contains(&"hong".to_string()),
        "another organisation's: {accounts:?}"
    );
    let r = park.post("/api/admin/disable/kim", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = web.client(Some(&m.kim)).get("/api/me").await;
    r.assert_refused(403, "account_disabled", "");
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_then_pending_then_org_admin_approves() {
    let web = Web::start().await;
    let m = material();
    let lee = web.client(Some(&m.lee));
    let r = lee.get("/api/me").await;
    r.assert_refused(403, "certificate_not_bound", "");
    let body = json!({"id": "lee", "address": "lee@example.go.kr", "organisation": "통계청", "password": "Blue-Sky-2026!"});
    let r = lee.post("/api/signup", body.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        r.json()["name"],
        "이민호",
        "the name comes from the certificate"
    );
    let r = lee.get("/api/me").await;
    r.assert_refused(403, "account_pending", "");

    // One person, one account: the same certificate, and a renewed one of the same DN.
    let again = json!({"id": "lee2", "address": "lee2@example.go.kr", "organisation": "통계청", "password": "Blue-Sky-2026!"});
    let r = lee.post("/api/signup", again.clone()).await;
    r.assert_refused(409, "person_has_account", "");
    let r = web
        .client(Some(&m.lee_renewed))
        .post("/api/signup", again)
        .await;
    r.assert_refused(409, "person_has_account", "");

    // The admin of another organisation sees nothing and cannot approve.
    let hong = web.client(Some(&m.hong));
    let r = hong.admin("approve", "lee").await;
    r.assert_refused(403, "outside_organisation", "");

    // The organisation's admin opens a session, sees the queue and approves.
    let park = web.client(Some(&m.park));
    let r = park.get("/api/admin/pending").await;
    r.assert_refused(401, "password_required", "");
    let r = park.open_session(PASSWORD).await;
    assert_eq!(r.status, 200, "{r:?}");
    let cookie = r.header("set-cookie").expect("cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let r = park.get("/api/admin/pending").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["pending"][0]["id"], "lee");
    let r = park.post("/api/admin/approve/lee", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = lee.get("/api/me").await;
    assert_eq!(r.status, 200, "{r:?}");

    // Audited with the actor, and no password anywhere in the log.
    let log = web.store.audit_by_account("lee", 100).await.expect("audit");
    let approve = log
        .iter()
        .find(|e| e.kind == "web_admin_action")
        .expect("audited");
    assert_eq!(
        approve.fields.get("actor").map(String::as_str),
        Some("park")
    );
    assert_eq!(
        approve.fields.get("action").map(String::as_str),
        Some("approve")
    );
    let all = web
        .store
        .audit_newest(0, i64::MAX, 1000)
        .await
        .expect("audit");
    let text = format!("{all:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains("Blue-Sky-2026!"),
        "a password reached the audit log"
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_the_organisations_and_keeps_browser_sessions() {
    let web = Web::start_reloadable().await;
    let m = material();
    let park = web.client(Some(&m.park));
    assert_eq!(park.open_session(PASSWORD).await.status, 200);
    let lee = web.client(Some(&m.lee));
    let body = json!({"id": "lee", "address": "lee@example.go.kr", "organisation": "국세청", "password": "Blue-Sky-2026!"});
    assert_eq!(
        lee.post("/api/signup", body.clone()).await.code(),
        "invalid",
        "not a listed organisation"
    );
    let mut ctx = web.ctx.clone();
    ctx.config.organisations.push("국세청".into());
    web.server
        .as_ref()
        .expect("reloadable")
        .reload(ctx)
        .expect("reloaded");
    assert_eq!(lee.post("/api/signup", body).await.status, 201);
    assert_eq!(
        park.get("/api/admin/pending").await.status,
        200,
        "the browser session survived"
    );
    web.stop().await;
}
