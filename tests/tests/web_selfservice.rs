//! The self-service web in the running daemon (`[web]`), driven by curl with real client
//! certificates: sign-up, approval by an org admin granted with the CLI, password changes
//! that IMAP sees at once, an expired password changed on the web, cross-origin and
//! certificate refusals.

use certmail_tests::web::{ADMIN_PASSWORD, Web, code, imap_login, imap_session, path};
use serde_json::json;

const FIRST: &str = "Blue-Sky-2026!";
const SECOND: &str = "Green-Leaf-2027!";

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_approve_change_password_and_imap_follows() -> anyhow::Result<()> {
    let web = Web::new("")?;
    let daemon = web.start()?;
    assert!(
        daemon
            .stdout
            .iter()
            .any(|l| l.starts_with("listening web ")),
        "{:?}",
        daemon.stdout
    );
    // The org-admin role, granted through the running daemon's admin socket.
    web.grant_org_admin()?;

    // 강감찬 has a good GPKI certificate and no account: sign up, then wait.
    let kang = web.client("kang", Some(&web.k.not_bound));
    let (s, me) = kang.call("GET", "/api/me", None);
    assert_eq!((s, code(&me)), (403, "certificate_not_bound"), "{me}");
    let signup = json!({"id": "kang", "address": "kang@test.go.kr", "organisation": "행정안전부", "password": FIRST});
    let (s, r) = kang.call("POST", "/api/signup", Some(signup));
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["name"], "강감찬", "the name comes from the certificate");
    let (s, me) = kang.call("GET", "/api/me", None);
    assert_eq!((s, code(&me)), (403, "account_pending"), "{me}");
    let kang_tls = web.tls("kang", &web.k.not_bound)?;
    let r = imap_login(&daemon, kang_tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 NO [CONTACTADMIN]"), "pending: {r}");

    // A cross-origin POST is refused and changes nothing.
    let mut evil = web.client("kang", Some(&web.k.not_bound));
    evil.origin = "https://evil.example".into();
    let (s, r) = evil.call(
        "POST",
        "/api/admin/approve/kang",
        Some(json!({"password": ADMIN_PASSWORD})),
    );
    assert_eq!(s, 403, "{r}");

    // The org admin approves; kang signs in over IMAP with the sign-up password.
    let kim = web.client("kim", Some(&web.k.people.gpki_ecdsa));
    let (s, r) = kim.call(
        "POST",
        "/api/admin/approve/kang",
        Some(json!({"password": ADMIN_PASSWORD})),
    );
    assert_eq!(s, 200, "{r}");
    let r = imap_login(&daemon, kang_tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 OK"), "approved: {r}");

    // A password change on the web: IMAP takes the new one and refuses the old.
    let (s, r) = kang.call(
        "POST",
        "/api/password",
        Some(json!({"current": FIRST, "new": SECOND})),
    );
    assert_eq!(s, 200, "{r}");
    let r = imap_login(&daemon, kang_tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "old: {r}");
    let r = imap_login(&daemon, kang_tls, "kang", SECOND).await?;
    assert!(r.starts_with("a1 OK"), "new: {r}");

    // Certificates the web refuses get the IMAP refusal's code as JSON.
    let (s, r) = web
        .client("npki", Some(&web.k.npki))
        .call("GET", "/api/me", None);
    assert_eq!((s, code(&r)), (403, "npki_certificate"), "{r}");
    assert!(r["message"].as_str().unwrap_or("").contains("NPKI"), "{r}");
    let (s, r) = web.client("none", None).call("GET", "/api/me", None);
    assert_eq!((s, code(&r)), (401, "no_certificate"), "{r}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_password_is_changed_on_the_web() -> anyhow::Result<()> {
    let web = Web::new("\n[auth]\npassword_max_age_days = 90")?;
    {
        let store = web.fx.open_store().await?;
        let mut a = store
            .account("kim")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no account kim"))?;
        a.password_set_at = a.password_set_at.map(|t| t - 91 * 86_400);
        store.update_account(a).await?;
        tokio::task::spawn_blocking(move || drop(store)).await?;
    }
    let daemon = web.start()?;
    let tls = web.tls("kim", &web.k.people.gpki_ecdsa)?;
    let r = imap_login(&daemon, tls.clone(), "kim", ADMIN_PASSWORD).await?;
    assert!(r.starts_with("a1 NO [EXPIRED]"), "{r}");
    let where_to = format!("Change it at {}/password.", web.url);
    assert!(r.contains(&where_to), "the refusal says where: {r}");

    let kim = web.client("kim", Some(&web.k.people.gpki_ecdsa));
    let (s, r) = kim.call(
        "POST",
        "/api/password",
        Some(json!({"current": ADMIN_PASSWORD, "new": SECOND})),
    );
    assert_eq!(s, 200, "{r}");
    let r = imap_login(&daemon, tls.clone(), "kim", SECOND).await?;
    assert!(r.starts_with("a1 OK"), "{r}");
    let r = imap_login(&daemon, tls, "kim", ADMIN_PASSWORD).await?;
    assert!(r.starts_with("a1 NO"), "{r}");
    Ok(())
}

/// An org admin refuses a sign-up with a reason: the applicant finds it at the contact
/// address given at sign-up (here the team mailbox on this server, delivered as the
/// org-admin notice is).
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_sign_up_mails_the_reason_to_the_applicant() -> anyhow::Result<()> {
    let web = Web::new("")?;
    // The contact mailbox: 박민수's, where 강감찬 asked to be told.
    web.fx.add_account("park", "박민수", ADMIN_PASSWORD)?;
    let (park_cert, _) = web.pem("park", &web.k.people.gpki_rsa)?;
    let (c, out, err) = web
        .fx
        .certmail(&["cert", "bind", "park", path(&park_cert)])?;
    assert_eq!(c, 0, "{out}{err}");
    let daemon = web.start()?;
    web.grant_org_admin()?;
    let kang = web.client("kang", Some(&web.k.not_bound));
    let signup = json!({"id": "kang", "address": "kang@test.go.kr", "organisation": "행정안전부",
        "password": FIRST, "contact": "park@test.go.kr"});
    let (s, r) = kang.call("POST", "/api/signup", Some(signup));
    assert_eq!(s, 201, "{r}");
    let kim = web.client("kim", Some(&web.k.people.gpki_ecdsa));
    let reason = "재직 확인이 되지 않았습니다. 인사 담당자에게 문의하세요.";
    let body = json!({"password": ADMIN_PASSWORD, "reason": reason});
    let (s, r) = kim.call("POST", "/api/admin/refuse/kang", Some(body));
    assert_eq!(s, 200, "{r}");
    let (s, r) = kang.call("GET", "/api/me", None);
    assert_eq!(
        (s, code(&r)),
        (403, "certificate_not_bound"),
        "the sign-up is gone: {r}"
    );

    // The notice is delivered in the background: 박민수 sees it arrive over IMAP.
    let tls = web.tls("park", &web.k.people.gpki_rsa)?;
    let (mut imap, answer) = imap_session(&daemon, None, tls, "park", ADMIN_PASSWORD).await?;
    assert!(answer.starts_with("a1 OK"), "{answer}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        imap.send_raw(b"a2 STATUS INBOX (MESSAGES)\r\n").await?;
        let status = imap.line().await?;
        imap.line().await?; // a2 OK
        if status.contains("MESSAGES 1") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notice: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop((imap, daemon));
    let store = web.fx.open_store().await?;
    let inbox = store.messages("park", "INBOX", 1..=u32::MAX).await?;
    assert_eq!(inbox.len(), 1, "one refusal notice");
    let raw = store.message_body("park", &inbox[0].blob).await?;
    tokio::task::spawn_blocking(move || drop(store)).await?;
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .ok_or_else(|| anyhow::anyhow!("the notice parses"))?;
    assert_eq!(
        message.subject(),
        Some("메일 계정 신청 거절 / Sign-up refused: kang")
    );
    let text = message.body_text(0).unwrap_or_default();
    assert!(text.contains(reason) && text.contains("강감찬"), "{text}");
    Ok(())
}
