//! TOTP, devices, the access record and the live mail session (all behind a browser
//! session: the sign-in page comes first).

use std::sync::Arc;

use axum::Router;
use axum::extract::Form;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::{
    InLang, PageResult, code_field, done, field, form, layout, notice, poster, signed_in_or_page,
    svg, when,
};
use crate::caller::Caller;
use crate::router::App;
use crate::services::{devices, totp};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/totp", get(totp_page))
        .route("/totp/enroll", post(totp_enroll))
        .route("/totp/confirm", post(totp_confirm))
        .route("/totp/disable", post(totp_disable))
        .route("/devices", get(devices_page))
        .route("/devices/forget", post(forget))
        .route("/session/end", post(end_session))
        .route("/signins", get(signins_page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PostForm {
    csrf: String,
    id: String,
    code: String,
    password: String,
}

async fn totp_page(Caller(app, peer, lang, headers): Caller) -> PageResult {
    let who = signed_in_or_page!(app, peer, headers, lang, "/totp");
    let on = who.account.totp_secret.is_some();
    let label = if on {
        lang.pick("새 비밀키 발급 (재등록)", "Regenerate")
    } else {
        lang.pick("OTP 등록 시작", "Start enrolment")
    };
    Ok(layout(lang, "OTP", html! {
        p { (if on { lang.pick("OTP를 사용하고 있습니다.", "TOTP is on.") } else { lang.pick("OTP를 사용하지 않습니다.", "TOTP is off.") }) }
        (form(&app, &who.identity.spki_sha256, "/totp/enroll", html! {}, label))
        @if on {
            h2 { (lang.pick("OTP 해제", "Turn TOTP off")) }
            (form(&app, &who.identity.spki_sha256, "/totp/disable", html! {
                (field(lang.pick("비밀번호", "Password"), "password", "password", "current-password"))
                (field(lang.pick("현재 OTP 코드", "Current code"), "code", "text", "one-time-code"))
            }, lang.pick("해제", "Turn off")))
        }
    }).into_response())
}

async fn totp_disable(
    Caller(app, peer, lang, headers): Caller,
    Form(f): Form<PostForm>,
) -> PageResult {
    let who = poster!(app, peer, headers, lang, f, "/totp");
    let password = certmail_auth::Secret::new(f.password);
    totp::disable(&app, &peer, &who, password, &f.code)
        .await
        .in_lang(lang)?;
    Ok(done("/totp"))
}

async fn totp_enroll(
    Caller(app, peer, lang, headers): Caller,
    Form(f): Form<PostForm>,
) -> PageResult {
    let who = poster!(app, peer, headers, lang, f, "/totp");
    let offer = totp::enroll(&app, &peer, &who).await.in_lang(lang)?;
    let label = lang.pick("앱에 표시된 6자리 코드", "The 6-digit code your app shows");
    let fields = code_field(label, "code", true);
    Ok(layout(lang, lang.pick("OTP 등록", "Enrol TOTP"), html! {
        p { (lang.pick("인증 앱으로 QR 코드를 읽거나 아래 주소를 입력하세요.", "Scan the QR code with your authenticator app, or type the address below.")) }
        (svg(&offer.qr_svg))
        p { code { (offer.otpauth_uri) } }
        (form(&app, &who.identity.spki_sha256, "/totp/confirm", fields, lang.pick("확인", "Confirm")))
    }).into_response())
}

async fn totp_confirm(
    Caller(app, peer, lang, headers): Caller,
    Form(f): Form<PostForm>,
) -> PageResult {
    let who = poster!(app, peer, headers, lang, f, "/totp");
    totp::confirm(&app, &peer, &who, &f.code)
        .await
        .in_lang(lang)?;
    Ok(layout(
        lang,
        "OTP",
        notice(lang.pick("OTP를 등록했습니다.", "TOTP is now on.")),
    )
    .into_response())
}

async fn devices_page(Caller(app, peer, lang, headers): Caller) -> PageResult {
    let who = signed_in_or_page!(app, peer, headers, lang, "/devices");
    let list = devices::list(&app, &who).await.in_lang(lang)?;
    let live = devices::live(&app, &who).await;
    let spki = who.identity.spki_sha256;
    Ok(layout(lang, lang.pick("기기", "Devices"), html! {
        h2 { (lang.pick("현재 메일 세션", "Live mail session")) }
        @if let Some(l) = live {
            p { (l.network) " · " (l.protocols.join(", ")) " · " (when(i64::try_from(l.since).unwrap_or(0))) }
            (form(&app, &spki, "/session/end", html! {}, lang.pick("세션 종료", "End it")))
        } @else {
            p { (lang.pick("열린 메일 세션이 없습니다.", "No mail session is open.")) }
        }
        h2 { (lang.pick("기억된 기기", "Remembered devices")) }
        table {
            thead { tr { th { (lang.pick("메일 프로그램", "Mail program")) } th { (lang.pick("인증서", "Certificate")) } th { (lang.pick("네트워크", "Network")) } th { (lang.pick("처음/마지막", "First/last seen")) } th {} } }
            tbody { @for d in &list { tr {
                td { (d.client.as_deref().unwrap_or("-")) }
                td { (d.certificate.as_deref().unwrap_or("-")) }
                td { (d.network) }
                td { (when(d.first_seen)) br; (when(d.last_seen)) }
                td { (form(&app, &spki, "/devices/forget", html! { input type="hidden" name="id" value=(d.id); }, lang.pick("삭제", "Forget"))) }
            } } }
        }
    }).into_response())
}

async fn forget(Caller(app, peer, lang, headers): Caller, Form(f): Form<PostForm>) -> PageResult {
    let who = poster!(app, peer, headers, lang, f, "/devices");
    devices::forget(&app, &peer, &who, &f.id)
        .await
        .in_lang(lang)?;
    Ok(done("/devices"))
}

async fn end_session(
    Caller(app, peer, lang, headers): Caller,
    Form(f): Form<PostForm>,
) -> PageResult {
    let who = poster!(app, peer, headers, lang, f, "/devices");
    devices::end_live(&app, &peer, &who).await.in_lang(lang)?;
    Ok(done("/devices"))
}

async fn signins_page(Caller(app, peer, lang, headers): Caller) -> PageResult {
    let who = signed_in_or_page!(app, peer, headers, lang, "/signins");
    let list = devices::signins(&app, &who).await.in_lang(lang)?;
    Ok(layout(lang, lang.pick("접속 기록", "Access record"), html! {
        table {
            thead { tr { th { (lang.pick("시각", "Time")) } th { (lang.pick("종류", "What")) } th { "IP" } th { (lang.pick("사유", "Reason")) } } }
            tbody { @for s in &list { tr {
                td { (when(s.time / 1000)) }
                td { (s.kind) " " (s.protocol.as_deref().unwrap_or("")) }
                td { (s.ip.as_deref().unwrap_or("-")) }
                td { (s.reason.as_deref().unwrap_or("")) }
            } } }
        }
    }).into_response())
}
