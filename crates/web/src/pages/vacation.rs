//! The out-of-office reply (부재중 자동응답): what is on, the form that turns it on (or
//! changes it) and the button that turns it off (behind a browser session).

use std::sync::Arc;

use axum::Router;
use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use certmail_auth::vacation::{Change, VacationSpec};
use certmail_sieve::vacation::Reply;
use maud::{Markup, html};
use serde::Deserialize;

use super::{InLang, PageError, PageResult, form, layout, notice, poster, signed_in_or_page};
use crate::caller::Caller;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::router::App;
use crate::services::{Authorized, vacation};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/vacation", get(page).post(turn_on))
        .route("/vacation/off", post(turn_off))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VacationForm {
    csrf: String,
    from: String,
    until: String,
    subject: String,
    message: String,
}

async fn page(Caller(app, peer, lang, headers): Caller) -> PageResult {
    let who = signed_in_or_page!(app, peer, headers, lang, "/vacation");
    render(&app, &who, lang, None).await
}

async fn turn_on(
    Caller(app, peer, lang, headers): Caller,
    form: Result<Form<VacationForm>, FormRejection>,
) -> PageResult {
    let Form(f) = form.map_err(|e| PageError(unreadable(&e), lang))?;
    let who = poster!(app, peer, headers, lang, f, "/vacation");
    let spec = VacationSpec {
        from: f.from,
        until: f.until,
        subject: Some(f.subject),
        message: f.message,
    };
    let change = vacation::set(&app, &peer, &who, Some(spec))
        .await
        .in_lang(lang)?;
    render(&app, &who, lang, Some(said(&change, lang))).await
}

async fn turn_off(
    Caller(app, peer, lang, headers): Caller,
    Form(f): Form<VacationForm>,
) -> PageResult {
    let who = poster!(app, peer, headers, lang, f, "/vacation");
    let change = vacation::set(&app, &peer, &who, None).await.in_lang(lang)?;
    render(&app, &who, lang, Some(said(&change, lang))).await
}

/// A form that could not be read: a message longer than `[web] max_body_bytes` lets
/// through is the one a person can send by typing, so that one says what to do.
fn unreadable(e: &FormRejection) -> WebError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        WebError::refused(
            413,
            "too_large",
            "The message is too long; shorten it and send the form again.",
        )
        .with_korean("메시지가 너무 깁니다. 줄여서 다시 보내세요.")
    } else {
        WebError::refused(400, "invalid", e.body_text())
    }
}

/// What a change did, for the notice above the page.
fn said(change: &Change, lang: Lang) -> String {
    match change {
        Change::On { previous, .. } => {
            let mut s = lang
                .pick(
                    "부재중 자동응답을 켰습니다.",
                    "Your out-of-office reply is on.",
                )
                .to_string();
            if let Some(p) = previous {
                s.push_str(&match lang {
                    Lang::Ko => format!(" 사용하던 필터 \"{p}\"도 계속 동작합니다."),
                    Lang::En => format!(" Your filter \"{p}\" keeps working."),
                });
            }
            s
        }
        Change::Off { .. } => lang
            .pick(
                "부재중 자동응답을 껐습니다.",
                "Your out-of-office reply is off.",
            )
            .to_string(),
    }
}

/// The page: the reply that is on (if any), the form, and the off button.
async fn render(app: &App, who: &Authorized, lang: Lang, note: Option<String>) -> PageResult {
    let current = vacation::current(app, who).await.in_lang(lang)?;
    let spki = who.identity.spki_sha256;
    let submit = if current.is_some() {
        lang.pick("변경", "Change")
    } else {
        lang.pick("켜기", "Turn on")
    };
    let body = html! {
        @if let Some(n) = &note { (notice(n)) }
        @match &current {
            Some(r) => {
                p { (lang.pick("부재중 자동응답이 켜져 있습니다.", "Your out-of-office reply is on.")) }
                (shown(r, lang))
            }
            None => p { (lang.pick("부재중 자동응답이 꺼져 있습니다.", "Your out-of-office reply is off.")) },
        }
        h2 { (lang.pick("기간과 메시지", "Dates and message")) }
        p class="hint" { (lang.pick(
            "기간 동안 받은 메일의 보낸 사람에게 한 번씩 자동으로 답장합니다(메일링 리스트와 자동 발송 메일에는 보내지 않습니다). 날짜는 UTC 기준입니다.",
            "During these days, each sender gets one automatic reply (never mailing lists or automatic mail). Dates are in UTC.",
        )) }
        (form(app, &spki, "/vacation", fields(current.as_ref(), lang), submit))
        @if current.is_some() {
            h2 { (lang.pick("자동응답 끄기", "Turn it off")) }
            (form(app, &spki, "/vacation/off", html! {}, lang.pick("끄기", "Turn off")))
        }
    };
    Ok(layout(
        lang,
        lang.pick("부재중 자동응답", "Out-of-office reply"),
        body,
    )
    .into_response())
}

/// The reply that is on.
fn shown(r: &Reply, lang: Lang) -> Markup {
    html! {
        dl {
            dt { (lang.pick("기간", "Dates")) } dd { (r.from) " ~ " (r.until) }
            dt { (lang.pick("제목", "Subject")) }
            dd { (r.subject.as_deref().unwrap_or(lang.pick("(원래 제목 앞에 \"Auto:\")", "(\"Auto:\" before the original subject)"))) }
            dt { (lang.pick("메시지", "Message")) } dd class="message" { (r.message) }
        }
    }
}

/// The form's fields, filled with the reply that is on.
fn fields(current: Option<&Reply>, lang: Lang) -> Markup {
    let from = current.map_or("", |r| r.from.as_str());
    let until = current.map_or("", |r| r.until.as_str());
    let subject = current.and_then(|r| r.subject.as_deref()).unwrap_or("");
    let message = current.map_or("", |r| r.message.as_str());
    html! {
        div class="field" {
            label for="from" { (lang.pick("시작일", "First day")) }
            input id="from" name="from" type="date" value=(from) required;
        }
        div class="field" {
            label for="until" { (lang.pick("종료일", "Last day")) }
            input id="until" name="until" type="date" value=(until) required;
        }
        div class="field" {
            label for="subject" { (lang.pick("제목 (선택)", "Subject (optional)")) }
            input id="subject" name="subject" type="text" value=(subject);
        }
        div class="field" {
            label for="message" { (lang.pick("메시지", "Message")) }
            textarea id="message" name="message" rows="6" required { (message) }
        }
    }
}
