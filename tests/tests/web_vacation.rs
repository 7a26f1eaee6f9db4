//! The out-of-office page (부재중 자동응답, `/vacation`) in the running daemon, driven by
//! curl with 김철수's certificate as a browser would post its forms: turned on, a sender
//! gets exactly one reply (swaks over port 25) while kim's own filter keeps filing; turned
//! off, nobody gets one and kim's filter is active again; forms without the form token,
//! with bad dates or without a message are refused with a Korean sentence saying what to
//! fix; a filter that sends its own vacation replies is never dropped.

use certmail_store::ScriptQuota;
use certmail_tests::delivered::{day, inbox_subjects, messages};
use certmail_tests::outside::swaks_from;
use certmail_tests::web::{ADMIN_PASSWORD, Client, Web, code, form_token};
use serde_json::json;

const QUOTA: ScriptQuota = ScriptQuota {
    max_bytes: 64 * 1024,
    max_scripts: 4,
};

/// kim's own filter: reports into 보고서.
const KIM_FILTER: &str = r#"require "fileinto";
if header :contains "subject" "보고서" { fileinto "보고서"; }
"#;

const MESSAGE: &str =
    "12월 말까지 휴가입니다.\n급한 일은 이영희(lee@test.go.kr)에게 연락해 주세요.";

/// kim's browser, signed in (a browser session in its cookie jar), and the form token of
/// the out-of-office page (whose state it also returns).
fn signed_in_browser(web: &Web) -> anyhow::Result<(Client, String, String)> {
    let jar = web.fx.dir.path().join("kim.cookies");
    let kim = web
        .client("kim", Some(&web.k.people.gpki_ecdsa))
        .with_cookies(jar);
    let (s, r) = kim.call(
        "POST",
        "/api/session",
        Some(json!({"password": ADMIN_PASSWORD})),
    );
    anyhow::ensure!(s == 200, "browser session: {s} {r}");
    let (s, page) = kim.page("/vacation");
    anyhow::ensure!(s == 200, "the page: {s} {page}");
    let token = form_token(&page)
        .ok_or_else(|| anyhow::anyhow!("no form token on {page}"))?
        .to_string();
    Ok((kim, token, page))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_turns_the_reply_on_and_off_on_the_web() -> anyhow::Result<()> {
    let web = Web::new("\n[sieve]\nmax_script_size = 2048")?;
    web.fx.add_account("park", "박영수", "another-Password-2")?;
    web.fx.add_account("lee", "이영희", "another-Password-3")?;
    {
        let store = web.fx.open_store().await?;
        store.create_mailbox("kim", "보고서", None).await?;
        store.put_script("kim", "분류", KIM_FILTER, QUOTA).await?;
        store.set_active_script("kim", Some("분류")).await?;
    }
    let daemon = web.start()?;
    let smtp = daemon.addr("smtp");
    let (kim, token, page) = signed_in_browser(&web)?;
    assert!(page.contains("부재중 자동응답이 꺼져 있습니다."), "{page}");
    assert!(
        page.contains(r#"href="/vacation""#),
        "linked from the menu: {page}"
    );
    let (from, until) = (day(-1), day(1));
    let form = |token: &str, from: &str, until: &str, message: &str| {
        kim.post_form(
            "/vacation",
            &[
                ("csrf", token),
                ("from", from),
                ("until", until),
                ("subject", "부재중: 김철수"),
                ("message", message),
            ],
        )
    };

    // Refusals say what to fix, and change nothing.
    let (s, r) = form("", &from, &until, MESSAGE);
    assert_eq!(s, 403, "no form token: {r}");
    assert!(r.contains("화면을 다시 열고"), "{r}");
    let (s, r) = form(&token, &until, &from, MESSAGE);
    assert_eq!(s, 400, "{r}");
    let reversed = format!("시작일({until})이 종료일({from})보다 늦습니다.");
    assert!(r.contains(&reversed), "dates out of order: {r}");
    let (s, r) = form(&token, "2026-13-01", &until, MESSAGE);
    assert_eq!(s, 400, "{r}");
    assert!(r.contains("YYYY-MM-DD 형식의 날짜로 입력하세요"), "{r}");
    let (s, r) = form(&token, &from, &until, " \n");
    assert_eq!(s, 400, "{r}");
    assert!(r.contains("메시지가 비어 있습니다"), "{r}");
    // Bounded twice: by [sieve] max_script_size (2048 here), and by [web] max_body_bytes
    // (16 KiB) before the form is read.
    let long = "휴가 중입니다. ".repeat(100);
    let (s, r) = form(&token, &from, &until, &long);
    assert_eq!(s, 400, "{r}");
    assert!(
        r.contains("허용하는 2048바이트를 넘습니다. 메시지를 줄이세요."),
        "{r}"
    );
    let (s, r) = form(&token, &from, &until, &long.repeat(10));
    assert_eq!(s, 413, "{r}");
    assert!(
        r.contains("메시지가 너무 깁니다. 줄여서 다시 보내세요."),
        "{r}"
    );
    assert!(kim.page("/vacation").1.contains("꺼져 있습니다"));

    // On: the page shows it, and says kim's filter keeps working.
    let (s, r) = form(&token, &from, &until, MESSAGE);
    assert_eq!(s, 200, "{r}");
    assert!(r.contains("부재중 자동응답을 켰습니다."), "{r}");
    assert!(r.contains("필터 &quot;분류&quot;도 계속 동작합니다"), "{r}");
    let (_, shown) = kim.page("/vacation");
    assert!(
        shown.contains("부재중 자동응답이 켜져 있습니다."),
        "{shown}"
    );
    assert!(shown.contains(&format!("{from} ~ {until}")), "{shown}");
    assert!(shown.contains("부재중: 김철수") && shown.contains("이영희(lee@test.go.kr)"));

    let (s, api) = kim.call("GET", "/api/vacation", None);
    assert_eq!(s, 200, "{api}");
    assert_eq!(
        api["vacation"]["from"],
        from.as_str(),
        "the API sees the same: {api}"
    );
    assert_eq!(api["vacation"]["subject"], "부재중: 김철수", "{api}");

    swaks_from(smtp, "park@test.go.kr", "kim@test.go.kr", "주간 보고서")?;
    swaks_from(smtp, "park@test.go.kr", "kim@test.go.kr", "회의 일정")?;

    // Off: nobody gets a reply any more.
    let (s, r) = kim.post_form("/vacation/off", &[("csrf", &token)]);
    assert_eq!(s, 200, "{r}");
    assert!(r.contains("부재중 자동응답을 껐습니다."), "{r}");
    assert!(r.contains("부재중 자동응답이 꺼져 있습니다."), "{r}");
    swaks_from(smtp, "lee@test.go.kr", "kim@test.go.kr", "휴가 후")?;
    let (s, api) = kim.call("GET", "/api/vacation", None);
    assert_eq!(
        (s, &api["vacation"]),
        (200, &serde_json::Value::Null),
        "{api}"
    );
    let (s, r) = kim.post_form("/vacation/off", &[("csrf", &token)]);
    assert_eq!(s, 409, "nothing left to turn off: {r}");
    assert!(r.contains("켜져 있는 부재중 자동응답이 없습니다."), "{r}");
    drop(daemon);

    let store = web.fx.open_store().await?;
    assert_eq!(
        inbox_subjects(&*store, "park").await?,
        ["부재중: 김철수"],
        "exactly one reply for two messages"
    );
    let reply = String::from_utf8_lossy(&messages(&*store, "park").await?[0]).into_owned();
    assert!(reply.contains("Auto-Submitted: auto-replied"), "{reply}");
    assert!(
        messages(&*store, "lee").await?.is_empty(),
        "no reply after off"
    );
    assert_eq!(
        store.messages("kim", "보고서", 1..=u32::MAX).await?.len(),
        1,
        "kim's own filter kept filing while the reply was on"
    );
    assert_eq!(
        store.active_script("kim").await?.map(|s| s.name).as_deref(),
        Some("분류"),
        "kim's filter is active again"
    );
    let events = store.audit_by_account("kim", 50).await?;
    let changes: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .filter(|e| e.kind == "account.vacation")
        .map(|e| {
            (
                e.fields["state"].as_str(),
                e.fields["actor"].as_str(),
                e.ip.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("off", "kim", Some("127.0.0.1")),
            ("on", "kim", Some("127.0.0.1"))
        ],
        "audited with kim as the actor, newest first; refusals change nothing"
    );
    Ok(())
}

/// 김철수's own filter already answers with `vacation`: the page refuses (two replies in
/// one run would stop his filters) and leaves the filter active.
#[tokio::test(flavor = "multi_thread")]
async fn a_filter_with_its_own_vacation_is_not_dropped() -> anyhow::Result<()> {
    let web = Web::new("")?;
    let own = "require \"vacation\";\nvacation \"연수 중입니다.\";\n";
    {
        let store = web.fx.open_store().await?;
        store.put_script("kim", "연수", own, QUOTA).await?;
        store.set_active_script("kim", Some("연수")).await?;
    }
    let daemon = web.start()?;
    let (kim, token, _) = signed_in_browser(&web)?;
    let (s, r) = kim.post_form(
        "/vacation",
        &[
            ("csrf", &token),
            ("from", &day(0)),
            ("until", &day(3)),
            ("message", MESSAGE),
        ],
    );
    assert_eq!(s, 409, "{r}");
    assert!(
        r.contains("필터 스크립트 &quot;연수&quot;가 자체 부재중 응답(vacation)을 보냅니다."),
        "{r}"
    );
    // The JSON API follows the same rules, with the CLI's codes.
    let body = json!({"from": day(0), "until": day(3), "message": MESSAGE});
    let (s, r) = kim.call("PUT", "/api/vacation", Some(body));
    assert_eq!((s, code(&r)), (409, "conflict"), "{r}");
    assert!(
        r["message"].as_str().unwrap_or("").contains("\"연수\""),
        "{r}"
    );
    let (s, r) = kim.call("DELETE", "/api/vacation", None);
    assert_eq!(
        (s, code(&r)),
        (409, "not_found"),
        "nothing to turn off: {r}"
    );
    drop(daemon);
    let store = web.fx.open_store().await?;
    let active = store.active_script("kim").await?;
    assert_eq!(active.map(|s| s.content).as_deref(), Some(own));
    assert!(store.script("kim", "certmail-vacation").await?.is_none());
    Ok(())
}
