//! The HTML pages: server-rendered with maud (compiled, escaped by default), no script,
//! Korean first. Forms post urlencoded to their own routes with the certificate's form
//! token, and call the same service functions as the JSON API.
//!
//! - `person`: the home page (account summary), sign-up, sign-in, password change.
//! - `manage`: TOTP, devices, the access record, the live mail session.
//! - `vacation`: the out-of-office reply (부재중 자동응답).
//! - `admin`: the org admin's approval queue and actions.

mod admin;
mod manage;
mod person;
mod vacation;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::error::WebError;
use crate::i18n::Lang;
use crate::identity::Peer;
use crate::router::App;
use crate::security;
use crate::services::{self, Authorized, Factor};

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/style.css", axum::routing::get(style))
        .merge(person::routes())
        .merge(manage::routes())
        .merge(admin::routes())
        .merge(vacation::routes())
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}

/// A [`WebError`] answered as a page.
pub(crate) struct PageError(pub WebError, pub Lang);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if !matches!(self.0, WebError::Refused { .. }) {
            tracing::error!(error = %self.0, "web page failed on our side");
        }
        error_page(&self.0, self.1)
    }
}

type PageResult = Result<Response, PageError>;

/// A service's refusal answered as a page in the request's language.
pub(crate) trait InLang<T> {
    fn in_lang(self, lang: Lang) -> Result<T, PageError>;
}

impl<T> InLang<T> for Result<T, WebError> {
    fn in_lang(self, lang: Lang) -> Result<T, PageError> {
        self.map_err(|e| PageError(e, lang))
    }
}

/// The person with a browser session (see [`signed_in`]); otherwise the handler answers
/// with the sign-in page that comes back to `$back`.
macro_rules! signed_in_or_page {
    ($app:expr, $peer:expr, $headers:expr, $lang:expr, $back:expr) => {
        match super::signed_in(&$app, &$peer, &$headers, $lang, $back).await? {
            Ok(who) => who,
            Err(page) => return Ok(page),
        }
    };
}
use signed_in_or_page;

/// Who posts: a browser session and the certificate's form token (see [`signed_in`]).
macro_rules! poster {
    ($app:expr, $peer:expr, $headers:expr, $lang:expr, $form:expr, $back:expr) => {{
        let who = super::signed_in_or_page!($app, $peer, $headers, $lang, $back);
        crate::security::check_form_token(&$app, &who.identity.spki_sha256, &$form.csrf)
            .in_lang($lang)?;
        who
    }};
}
use poster;

/// The page for a refusal: the same code and sentence as the IMAP refusal.
pub(crate) fn error_page(err: &WebError, lang: Lang) -> Response {
    let (status, code, _) = err.public();
    let message = crate::i18n::refusal_sentence(err, lang);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = layout(
        lang,
        lang.pick("요청을 처리할 수 없습니다", "This cannot be done"),
        html! {
            div role="alert" class="refusal" {
                p { (message) }
                p class="code" { (lang.pick("코드", "Code")) ": " code { (code) } }
            }
            p { a href="/" { (lang.pick("처음으로", "Home")) } }
        },
    );
    (status, body).into_response()
}

/// The frame of every page: one `h1`, a skip-free simple structure, the stylesheet.
pub(crate) fn layout(lang: Lang, title: &str, content: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang=(lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · certmail" }
                    link rel="stylesheet" href="/style.css";
                }
                body {
                    header { nav aria-label=(lang.pick("메뉴", "Menu")) { ul {
                        li { a href="/" { (lang.pick("내 계정", "My account")) } }
                        li { a href="/password" { (lang.pick("비밀번호", "Password")) } }
                        li { a href="/totp" { (lang.pick("OTP", "TOTP")) } }
                        li { a href="/devices" { (lang.pick("기기", "Devices")) } }
                        li { a href="/signins" { (lang.pick("접속 기록", "Access record")) } }
                        li { a href="/vacation" { (lang.pick("부재중 자동응답", "Out of office")) } }
                        li { a href="/admin" { (lang.pick("승인", "Approvals")) } }
                    } } }
                    main { h1 { (title) } (content) }
                }
            }
        }
        .into_string(),
    )
}

/// A form with the certificate's token, posting to `action`.
pub(crate) fn form(
    app: &App,
    spki: &[u8; 32],
    action: &str,
    fields: Markup,
    submit: &str,
) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(security::form_token(app, spki));
            (fields)
            button type="submit" { (submit) }
        }
    }
}

/// A labelled input.
pub(crate) fn field(label: &str, name: &str, kind: &str, autocomplete: &str) -> Markup {
    html! {
        div class="field" {
            label for=(name) { (label) }
            input id=(name) name=(name) type=(kind) autocomplete=(autocomplete) required;
        }
    }
}

/// An input for a 6-digit authenticator code; `required` where the step needs one (the
/// sign-in and password forms ask for it only where TOTP is on).
pub(crate) fn code_field(label: &str, name: &str, required: bool) -> Markup {
    html! {
        div class="field" {
            label for=(name) { (label) }
            input id=(name) name=(name) type="text" inputmode="numeric" autocomplete="one-time-code" required[required];
        }
    }
}

/// The optional TOTP field of the sign-in and password forms.
pub(crate) fn totp_field(lang: Lang) -> Markup {
    let label = lang.pick(
        "OTP 코드 (사용하는 경우)",
        "Authenticator code (if you use one)",
    );
    code_field(label, "totp", false)
}

/// The person behind the certificate with a browser session, or the sign-in page that
/// opens one and comes back to `back`.
pub(crate) async fn signed_in(
    app: &App,
    peer: &Peer,
    headers: &HeaderMap,
    lang: Lang,
    back: &str,
) -> Result<Result<Authorized, Response>, PageError> {
    let factor = Factor {
        cookie: crate::cookie::token_of(headers),
        ..Factor::default()
    };
    match services::authorize(app, peer, factor).await {
        Ok(who) => Ok(Ok(who)),
        Err(WebError::Refused { code, .. }) if code == "password_required" => {
            let identity = crate::identity::certificate(&app.ctx, peer).in_lang(lang)?;
            Ok(Err(person::signin_page(
                app,
                &identity.spki_sha256,
                lang,
                back,
            )
            .into_response()))
        }
        Err(e) => Err(PageError(e, lang)),
    }
}

/// After a successful post: back to `to` (303, so a reload does not post again).
pub(crate) fn done(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A notice above a page's content.
pub(crate) fn notice(text: &str) -> Markup {
    html! { p role="status" class="notice" { (text) } }
}

/// Raw SVG (made by the qrcode crate from the otpauth URI, no user text inside).
pub(crate) fn svg(svg: &str) -> Markup {
    html! { div class="qr" { (PreEscaped(svg)) } }
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC` (chrono, as the daemon's CLI prints dates).
pub(crate) fn when(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_796_563_800), "2026-12-06 13:30 UTC");
    }
}
