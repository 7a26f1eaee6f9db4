//! The self-service web in a real browser (issue 16): Debian's headless Chromium driven
//! over WebDriver, each profile presenting its own client certificate from its own NSS
//! database. 강감찬 signs up, 김철수 approves as the org admin of 행정안전부 (a second
//! profile), 강감찬 changes the password, enrols TOTP with a code computed from the
//! secret on the page and turns on an out-of-office reply. Every page is saved as a PNG under `target/web-screenshots/`.

mod browser;

use std::path::PathBuf;

use browser::{Browser, CertificatePolicy, Tools};
use certmail_tests::delivered::day;
use certmail_tests::web::{ADMIN_PASSWORD, ORGANISATION, Web, code, imap_login};

const FIRST: &str = "Blue-Sky-2026!";
const SECOND: &str = "Green-Leaf-2027!";

/// Where the screenshots go: `target/web-screenshots/` (beside `target/tmp`).
fn screenshots() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("web-screenshots")
}

/// A browser profile presenting `cert` under the stem `name`.
async fn profile(
    tools: &Tools,
    web: &Web,
    name: &str,
    cert: &certmail_pki::testpki::UserCert,
) -> anyhow::Result<Browser> {
    let (c, k) = web.pem(name, cert)?;
    Browser::start(tools, name, (&c, &k), &web.fx.server_ca, &screenshots()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_approve_change_password_and_enrol_totp_in_chromium() -> anyhow::Result<()> {
    // Absent tools fail the test with what to install: it must not pass unseen.
    let tools = Tools::find()?;
    let web = Web::new("")?;
    let daemon = web.start()?;
    web.grant_org_admin()?;
    let _policy = CertificatePolicy::install("https://localhost")?;
    let url = &web.url;

    // 강감찬 (no account yet) is sent from the home page to the sign-up form, with the
    // name taken from the certificate.
    let kang = profile(&tools, &web, "kang", &web.k.not_bound).await?;
    kang.goto(&format!("{url}/")).await?;
    assert_eq!(kang.path().await?, "/signup");
    kang.fill("id", "kang").await?;
    kang.fill("address", "kang@test.go.kr").await?;
    kang.fill("organisation", ORGANISATION).await?;
    kang.fill("password", FIRST).await?;
    kang.screenshot("01-signup").await?;
    kang.submit("form[action='/signup']").await?;
    let note = kang.text("[role=status]").await?;
    assert!(note.contains("가입 신청을 받았습니다"), "{note}");
    kang.screenshot("02-signed-up").await?;

    // 김철수 opens the approval queue: first the password, then the queue with 강감찬.
    let kim = profile(&tools, &web, "kim", &web.k.people.gpki_ecdsa).await?;
    kim.goto(&format!("{url}/admin")).await?;
    kim.fill("password", ADMIN_PASSWORD).await?;
    kim.screenshot("03-admin-signin").await?;
    kim.submit("form[action='/signin']").await?;
    assert_eq!(kim.path().await?, "/admin");
    let applicant = kim.text("section[aria-label='kang'] h2").await?;
    assert_eq!(applicant, "강감찬 (kang)");
    kim.screenshot("04-approvals").await?;
    kim.submit("section[aria-label='kang'] form:has(input[value='approve'])")
        .await?;
    let queue = kim.text("main").await?;
    assert!(queue.contains("승인을 기다리는 신청이 없습니다"), "{queue}");
    kim.quit().await?;

    // Approved, 강감찬 changes the password on the web; IMAP takes only the new one.
    kang.goto(&format!("{url}/password")).await?;
    kang.fill("current", FIRST).await?;
    kang.fill("new", SECOND).await?;
    kang.submit("form[action='/password']").await?;
    let note = kang.text("[role=status]").await?;
    assert!(note.contains("비밀번호를 바꾸었습니다"), "{note}");
    kang.screenshot("05-password-changed").await?;
    let tls = web.tls("kang-imap", &web.k.not_bound)?;
    let r = imap_login(&daemon, tls.clone(), "kang", FIRST).await?;
    assert!(r.starts_with("a1 NO [AUTHENTICATIONFAILED]"), "old: {r}");
    let r = imap_login(&daemon, tls, "kang", SECOND).await?;
    assert!(r.starts_with("a1 OK"), "new: {r}");

    // TOTP: the password opens a browser session, then enrolment shows the QR code and the
    // otpauth URI; the code computed from its secret confirms it.
    kang.goto(&format!("{url}/totp")).await?;
    kang.fill("password", SECOND).await?;
    kang.submit("form[action='/signin']").await?;
    assert_eq!(kang.path().await?, "/totp");
    kang.submit("form[action='/totp/enroll']").await?;
    let uri = kang.text("main p code").await?;
    let secret = certmail_auth::totp::secret_of_uri(&uri)
        .ok_or_else(|| anyhow::anyhow!("no secret in the page's otpauth URI: {uri}"))?;
    kang.screenshot("06-totp-enrol").await?;
    let step = certmail_auth::totp::step_of(certmail_auth::now());
    let totp = format!("{:06}", certmail_auth::totp::code_at(&secret, step, 6));
    kang.fill("code", &totp).await?;
    kang.submit("form[action='/totp/confirm']").await?;
    let note = kang.text("[role=status]").await?;
    assert!(note.contains("OTP를 등록했습니다"), "{note}");
    kang.screenshot("07-totp-on").await?;

    // The out-of-office reply, from the menu: on, with the dates picked.
    kang.goto(&format!("{url}/vacation")).await?;
    let state = kang.text("main p").await?;
    assert!(state.contains("꺼져 있습니다"), "{state}");
    kang.set_value("from", &day(0)).await?;
    kang.set_value("until", &day(7)).await?;
    kang.fill("subject", "부재중: 강감찬").await?;
    kang.fill("message", "연수 중입니다. 다음 주에 답장드리겠습니다.")
        .await?;
    kang.submit("form[action='/vacation']").await?;
    let note = kang.text("[role=status]").await?;
    assert!(note.contains("부재중 자동응답을 켰습니다"), "{note}");
    let shown = kang.text("main dl").await?;
    assert!(
        shown.contains(&format!("{} ~ {}", day(0), day(7))),
        "{shown}"
    );
    kang.screenshot("08-vacation-on").await?;
    kang.quit().await?;

    // What the browser did, as the API reports it.
    let (s, me) = web
        .client("kang-api", Some(&web.k.not_bound))
        .call("GET", "/api/me", None);
    assert_eq!((s, code(&me)), (200, ""), "{me}");
    assert_eq!(me["totp"], true, "{me}");
    for shot in [
        "01-signup",
        "04-approvals",
        "06-totp-enrol",
        "07-totp-on",
        "08-vacation-on",
    ] {
        let png = std::fs::read(screenshots().join(format!("{shot}.png")))?;
        assert!(png.starts_with(b"\x89PNG"), "{shot} is a PNG");
    }
    Ok(())
}
