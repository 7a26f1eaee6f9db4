//! The HTML pages with a real client: forms with their token, Korean first, English by
//! Accept-Language, no script, the QR code inline.

mod common;

use common::{PASSWORD, Web, material, totp_code};

fn token(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
    page[at..].split('"').next().expect("value").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_and_sign_in_through_the_forms() {
    let web = Web::start().await;
    let m = material();
    let lee = web.client(Some(&m.lee));
    let home = lee.get("/").await;
    assert_eq!(home.status, 303, "no account: to the sign-up page {home:?}");
    let page = lee.get("/signup").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body.contains("이민호") && page.body.contains("readonly"),
        "name from the certificate"
    );
    assert!(page.body.contains("<label for=\"id\">"), "labelled inputs");
    assert!(!page.body.contains("<script"), "no script");
    let csrf = token(&page.body);
    let r = lee
        .form(
            "/signup",
            &[
                ("csrf", &csrf),
                ("id", "lee"),
                ("address", "lee@example.go.kr"),
                ("organisation", "통계청"),
                ("password", "Blue-Sky-2026!"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("승인"), "{}", r.body);
    assert_eq!(
        web.account("lee").await.state,
        certmail_store::AccountState::Pending
    );

    // The admin signs in through the form and approves on the page.
    let park = web.client(Some(&m.park));
    let page = park.get("/admin").await;
    assert!(
        page.body.contains("name=\"password\""),
        "the sign-in form first: {}",
        page.body
    );
    let csrf = token(&page.body);
    let r = park.sign_in_form(&csrf, "/admin", PASSWORD).await;
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (303, Some("/admin")),
        "{r:?}"
    );
    let page = park.get("/admin").await;
    assert!(page.body.contains("이민호"), "{}", page.body);
    assert!(
        page.body.contains("sign_in_ok"),
        "the organisation's record: {}",
        page.body
    );
    let r = park
        .form(
            "/admin/act",
            &[("csrf", &csrf), ("id", "lee"), ("action", "approve")],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(
        web.account("lee").await.state,
        certmail_store::AccountState::Active
    );
    // A renewed certificate of kim is registered from the sign-up page.
    let renewed = web.client(Some(&m.kim_second));
    let page = renewed.get("/signup").await;
    let csrf = token(&page.body);
    let r = renewed
        .form("/renew", &[("csrf", &csrf), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert_eq!(renewed.get("/").await.status, 200);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_totp_devices_and_record_pages() {
    let web = Web::start().await;
    let mut kim = web.client(Some(&material().kim));
    let page = kim.get("/password").await;
    assert!(
        page.body.contains("비밀번호 규칙"),
        "the rules before typing: {}",
        page.body
    );
    let csrf = token(&page.body);
    let r = kim
        .form(
            "/password",
            &[("csrf", &csrf), ("current", PASSWORD), ("new", "weak")],
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("weak_password"), "{}", r.body);
    let r = kim
        .form(
            "/password",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "Another-Good-99"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = kim.sign_in_form(&csrf, "/totp", "Another-Good-99").await;
    assert_eq!(r.status, 303, "{r:?}");
    let r = kim.form("/totp/enroll", &[("csrf", &csrf)]).await;
    assert!(
        r.body.contains("<svg") && r.body.contains("otpauth://totp/"),
        "{}",
        r.body
    );
    let uri = r
        .body
        .split("<code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("uri")
        .replace("&amp;", "&");
    let r = kim
        .form(
            "/totp/confirm",
            &[("csrf", &csrf), ("code", &totp_code(&uri))],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("OTP를 등록했습니다"), "{}", r.body);
    let page = kim.get("/totp").await;
    assert!(page.body.contains("/totp/disable"), "{}", page.body);
    let next = common::totp_code_at(&uri, 1);
    let r = kim
        .form(
            "/totp/disable",
            &[
                ("csrf", &csrf),
                ("password", "Another-Good-99"),
                ("code", &next),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{r:?}");
    assert!(web.account("kim").await.totp_secret.is_none());
    let devices = kim.get("/devices").await;
    assert!(devices.body.contains("127.0.0.0/24"), "{}", devices.body);
    let record = kim.get("/signins").await;
    assert!(record.body.contains("sign_in_ok"), "{}", record.body);
    kim.lang = Some("en-US,en;q=0.9".into());
    let english = kim.get("/signins").await;
    assert!(
        english.body.contains("Access record") && english.body.contains("lang=\"en\""),
        "{}",
        english.body
    );
    web.stop().await;
}

/// Refusals on pages speak the page's language (Korean first, English by
/// Accept-Language) and keep the same code; the JSON API keeps its code too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_korean_on_korean_pages_and_english_by_accept_language() {
    let web = Web::start().await;
    let m = material();
    let mut kim = web.client(Some(&m.kim));
    let csrf = token(&kim.get("/password").await.body);
    let weak = [
        ("csrf", csrf.as_str()),
        ("current", PASSWORD),
        ("new", "Ab1!"),
    ];
    let r = kim.form("/password", &weak).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body
            .contains("새 비밀번호가 규칙에 맞지 않습니다: 4자입니다. 10자 이상으로 하세요.")
            && r.body.contains("weak_password"),
        "{}",
        r.body
    );
    kim.lang = Some("en-US,en;q=0.9".into());
    let r = kim.form("/password", &weak).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body
            .contains("the password has 4 characters; use at least 10")
            && r.body.contains("weak_password")
            && !r.body.contains("규칙에 맞지"),
        "{}",
        r.body
    );
    let r = kim
        .post(
            "/api/password",
            serde_json::json!({"current": PASSWORD, "new": "Ab1!"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("weak_password")),
        "{r:?}"
    );

    // An identity refusal: the NPKI certificate, in each language.
    let mut npki = web.client(Some(&m.npki));
    let r = npki.get("/").await;
    assert_eq!(r.status, 403, "{r:?}");
    assert!(
        r.body.contains("공동인증서(NPKI") && r.body.contains("npki_certificate"),
        "{}",
        r.body
    );
    npki.lang = Some("en".into());
    let r = npki.get("/").await;
    assert!(
        r.body.contains("NPKI") && !r.body.contains("공동인증서"),
        "{}",
        r.body
    );
    web.stop().await;
}
