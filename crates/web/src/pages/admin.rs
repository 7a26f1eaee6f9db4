//! The org admin's page: the approval queue of their organisation and the actions.

use std::sync::Arc;

use axum::Router;
use axum::extract::Form;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use super::{InLang, PageResult, done, field, form, layout, notice, signed_in_or_page, when};
use crate::caller::Caller;
use crate::router::App;
use crate::security::check_form_token;
use crate::services::admin::{self, Action};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/admin", get(queue))
        .route("/admin/act", post(act))
}

async fn queue(Caller(app, peer, lang, headers): Caller) -> PageResult {
    let who = signed_in_or_page!(app, peer, headers, lang, "/admin");
    let pending = admin::pending(&app, &who).await.in_lang(lang)?;
    let record = admin::signins(&app, &who).await.in_lang(lang)?;
    let spki = who.identity.spki_sha256;
    let action = |id: &str, what: &str, label: &str, extra: maud::Markup| {
        form(
            &app,
            &spki,
            "/admin/act",
            html! {
                input type="hidden" name="id" value=(id);
                input type="hidden" name="action" value=(what);
                (extra)
            },
            label,
        )
    };
    Ok(layout(lang, lang.pick("가입 승인", "Approvals"), html! {
        @if pending.is_empty() { p { (lang.pick("승인을 기다리는 신청이 없습니다.", "No sign-up is waiting.")) } }
        @for p in &pending {
            section aria-label=(p.id) {
                h2 { (p.name) " (" (p.id) ")" }
                p { (p.addresses.join(", ")) " · " (when(p.created_at)) }
                p { code { (p.certificate.as_deref().unwrap_or("-")) } }
                (action(&p.id, "approve", lang.pick("승인", "Approve"), html! {}))
                (action(&p.id, "refuse", lang.pick("거절", "Refuse"), field(lang.pick("거절 사유", "Reason"), "reason", "text", "off")))
            }
        }
        h2 { (lang.pick("기관 접속 기록 (최근 50건)", "Organisation's sign-in record (latest 50)")) }
        table {
            thead { tr { th { (lang.pick("시각", "Time")) } th { (lang.pick("계정", "Account")) } th { (lang.pick("종류", "What")) } th { "IP" } } }
            tbody { @for (account, s) in record.iter().take(50) { tr {
                td { (when(s.time / 1000)) }
                td { (account) }
                td { (s.kind) " " (s.reason.as_deref().unwrap_or("")) }
                td { (s.ip.as_deref().unwrap_or("-")) }
            } } }
        }
        h2 { (lang.pick("계정 관리", "Accounts")) }
        (form(&app, &spki, "/admin/act", html! {
            (field(lang.pick("계정 ID", "Account id"), "id", "text", "off"))
            div class="field" {
                label for="action" { (lang.pick("작업", "Action")) }
                select id="action" name="action" {
                    option value="unlock" { (lang.pick("잠금 해제", "Unlock")) }
                    option value="password" { (lang.pick("임시 비밀번호 발급", "Issue a temporary password")) }
                    option value="disable" { (lang.pick("계정 중지", "Disable")) }
                }
            }
        }, lang.pick("실행", "Do it")))
    }).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActForm {
    csrf: String,
    id: String,
    action: String,
    reason: String,
}

async fn act(Caller(app, peer, lang, headers): Caller, Form(f): Form<ActForm>) -> PageResult {
    let who = signed_in_or_page!(app, peer, headers, lang, "/admin");
    check_form_token(&app, &who.identity.spki_sha256, &f.csrf).in_lang(lang)?;
    let action = match f.action.as_str() {
        "approve" => Action::Approve,
        "refuse" => Action::Refuse { reason: f.reason },
        "unlock" => Action::Unlock,
        "disable" => Action::Disable,
        _ => Action::TemporaryPassword,
    };
    let issued = admin::act(&app, &peer, &who, &f.id, action)
        .await
        .in_lang(lang)?;
    Ok(match issued {
        Some(pw) => layout(lang, lang.pick("임시 비밀번호", "Temporary password"), html! {
            (notice(lang.pick("한 번만 표시됩니다. 본인에게 안전하게 전달하세요.", "Shown once: hand it to the person safely.")))
            p { code { (pw) } }
        }).into_response(),
        None => done("/admin"),
    })
}
