//! The home page (account summary), sign-up, sign-in and the password change.

use std::sync::Arc;

use axum::Router;
use axum::extract::Form;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use certmail_auth::Secret;
use maud::html;
use serde::Deserialize;

use super::{InLang, PageError, PageResult, done, field, form, layout, notice, totp_field, when};
use crate::caller::Caller;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::identity::{self, Peer};
use crate::router::App;
use crate::security::check_form_token;
use crate::services::{self, account};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(home))
        .route("/signup", get(signup_page).post(signup))
        .route("/signin", post(signin))
        .route("/renew", post(renew))
        .route("/signout", post(signout))
        .route("/password", get(password_page).post(password))
}

/// The certificate's SPKI after checking the form token, for every page post.
fn checked_form(app: &App, peer: &Peer, token: &str, lang: Lang) -> Result<[u8; 32], PageError> {
    let identity = identity::certificate(&app.ctx, peer).in_lang(lang)?;
    check_form_token(app, &identity.spki_sha256, token).in_lang(lang)?;
    Ok(identity.spki_sha256)
}

async fn home(Caller(app, peer, lang, _): Caller) -> PageResult {
    let me = match account::me(&app, &peer).await {
        Ok(me) => me,
        Err(WebError::Refused { code, .. }) if code == "certificate_not_bound" => {
            return Ok(super::done("/signup"));
        }
        Err(e) => return Err(PageError(e, lang)),
    };
    let expires = me
        .password_expires_at
        .map(when)
        .unwrap_or_else(|| lang.pick("없음", "never").to_string());
    Ok(layout(lang, lang.pick("내 계정", "My account"), html! {
        dl {
            dt { (lang.pick("이름", "Name")) } dd { (me.name) }
            dt { (lang.pick("계정", "Account")) } dd { (me.id) }
            dt { (lang.pick("기관", "Organisation")) } dd { (me.organisation) }
            dt { (lang.pick("메일 주소", "Addresses")) } dd { (me.addresses.join(", ")) }
            dt { (lang.pick("비밀번호 만료", "Password expires")) } dd { (expires) }
            dt { "OTP" } dd { (if me.totp { lang.pick("사용", "on") } else { lang.pick("사용 안 함", "off") }) }
        }
    }).into_response())
}

async fn signup_page(Caller(app, peer, lang, _): Caller) -> PageResult {
    let identity = identity::certificate(&app.ctx, &peer).in_lang(lang)?;
    let orgs = &app.ctx.config.organisations;
    let fields = html! {
        div class="field" {
            label for="name" { (lang.pick("이름 (인증서)", "Name (from your certificate)")) }
            input id="name" type="text" value=(identity.name) readonly;
        }
        (field(lang.pick("계정 ID", "Account id"), "id", "text", "username"))
        (field(lang.pick("원하는 메일 주소", "Requested address"), "address", "email", "email"))
        div class="field" {
            label for="organisation" { (lang.pick("기관", "Organisation")) }
            @if orgs.is_empty() {
                input id="organisation" name="organisation" type="text" required;
            } @else {
                select id="organisation" name="organisation" required {
                    @for o in orgs { option value=(o) { (o) } }
                }
            }
        }
        (field(lang.pick("비밀번호", "Password"), "password", "password", "new-password"))
        (rules(&app, lang))
        div class="field" {
            label for="contact" { (lang.pick("연락받을 메일 주소 (선택: 신청이 거절되면 사유를 보냅니다)", "Contact address (optional: where the reason goes if the sign-up is refused)")) }
            input id="contact" name="contact" type="email" autocomplete="email";
        }
    };
    Ok(layout(lang, lang.pick("가입 신청", "Sign up"), html! {
        p { (lang.pick("가입 신청은 기관 관리자의 승인 후 사용할 수 있습니다.", "Your account can be used once your organisation's administrator approves it.")) }
        (form(&app, &identity.spki_sha256, "/signup", fields, lang.pick("신청", "Sign up")))
        h2 { (lang.pick("인증서를 갱신하셨나요?", "Renewed your certificate?")) }
        p { (lang.pick("이전 인증서로 쓰던 계정의 비밀번호를 입력하면 새 인증서가 등록됩니다.", "Type your account's password to register the new certificate with it.")) }
        (form(&app, &identity.spki_sha256, "/renew", html! {
            (field(lang.pick("비밀번호", "Password"), "password", "password", "current-password"))
        }, lang.pick("새 인증서 등록", "Register this certificate")))
    }).into_response())
}

async fn renew(Caller(app, peer, lang, _): Caller, Form(f): Form<SignInForm>) -> PageResult {
    checked_form(&app, &peer, &f.csrf, lang)?;
    let totp = Some(f.totp).filter(|t| !t.is_empty());
    crate::services::renewal::renew(&app, &peer, Secret::new(f.password), totp)
        .await
        .in_lang(lang)?;
    Ok(done("/"))
}

fn rules(app: &App, lang: Lang) -> maud::Markup {
    let r = &app.ctx.password_rules;
    html! {
        p class="hint" {
            (lang.pick("비밀번호 규칙: 최소 길이 ", "Password rules: at least ")) (r.min_length)
            (lang.pick("자, 소문자·대문자·숫자·기호 중 ", " characters, at least "))
            (r.classes)
            (lang.pick("종류 이상, 계정 ID 포함 금지.", " of lowercase, uppercase, digits and symbols; not containing the account id."))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignUpForm {
    csrf: String,
    #[serde(flatten)]
    new: account::SignUp,
}

async fn signup(Caller(app, peer, lang, _): Caller, Form(f): Form<SignUpForm>) -> PageResult {
    checked_form(&app, &peer, &f.csrf, lang)?;
    let me = account::sign_up(&app, &peer, f.new).await.in_lang(lang)?;
    Ok(layout(lang, lang.pick("신청 완료", "Signed up"), html! {
        (notice(lang.pick("가입 신청을 받았습니다. 기관 관리자가 승인하면 메일을 사용할 수 있습니다.", "Your sign-up was received. You can use mail once your organisation's administrator approves it.")))
        p { (me.id) " · " (me.organisation) }
    }).into_response())
}

/// The page that asks for the password (and code) to open a browser session.
pub(super) fn signin_page(app: &App, spki: &[u8; 32], lang: Lang, back: &str) -> Response {
    let fields = html! {
        input type="hidden" name="back" value=(back);
        (field(lang.pick("비밀번호", "Password"), "password", "password", "current-password"))
        (totp_field(lang))
    };
    layout(
        lang,
        lang.pick("비밀번호 확인", "Confirm your password"),
        form(app, spki, "/signin", fields, lang.pick("확인", "Continue")),
    )
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInForm {
    csrf: String,
    back: String,
    password: String,
    totp: String,
}

async fn signin(Caller(app, peer, lang, _): Caller, Form(f): Form<SignInForm>) -> PageResult {
    checked_form(&app, &peer, &f.csrf, lang)?;
    let (identity, account) = identity::person(&app.ctx, &peer).await.in_lang(lang)?;
    services::check_password(
        &app,
        &peer,
        &account,
        Secret::new(f.password),
        Some(f.totp),
        false,
    )
    .await
    .in_lang(lang)?;
    let token = services::open_session(&app, &peer, &identity, &account)
        .await
        .in_lang(lang)?;
    // Only our own pages: never an address from outside.
    let back =
        if ["/devices", "/signins", "/totp", "/vacation", "/admin"].contains(&f.back.as_str()) {
            f.back
        } else {
            "/".into()
        };
    let mut response = done(&back);
    if let Ok(v) = app.sessions.set_cookie(&token).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenForm {
    csrf: String,
}

async fn signout(Caller(app, peer, lang, headers): Caller, Form(f): Form<TokenForm>) -> PageResult {
    checked_form(&app, &peer, &f.csrf, lang)?;
    if let Some(t) = crate::cookie::token_of(&headers) {
        app.sessions.end(&t).await;
    }
    let mut response = done("/");
    if let Ok(v) = crate::cookie::clear_cookie().parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn password_page(Caller(app, peer, lang, _): Caller) -> PageResult {
    let (identity, _) = identity::person(&app.ctx, &peer).await.in_lang(lang)?;
    Ok(password_form(&app, &identity.spki_sha256, lang, None))
}

fn password_form(app: &App, spki: &[u8; 32], lang: Lang, done_note: Option<&str>) -> Response {
    let fields = html! {
        (rules(app, lang))
        (field(lang.pick("현재 비밀번호 (만료되었거나 임시 비밀번호여도 됩니다)", "Current password (expired or temporary is fine)"), "current", "password", "current-password"))
        (field(lang.pick("새 비밀번호", "New password"), "new", "password", "new-password"))
        (totp_field(lang))
    };
    layout(
        lang,
        lang.pick("비밀번호 변경", "Change your password"),
        html! {
            @if let Some(n) = done_note { (notice(n)) }
            (form(app, spki, "/password", fields, lang.pick("변경", "Change")))
        },
    )
    .into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    totp: String,
}

async fn password(Caller(app, peer, lang, _): Caller, Form(f): Form<PasswordForm>) -> PageResult {
    let spki = checked_form(&app, &peer, &f.csrf, lang)?;
    account::change_password(
        &app,
        &peer,
        Secret::new(f.current),
        Secret::new(f.new),
        Some(f.totp),
    )
    .await
    .in_lang(lang)?;
    Ok(password_form(
        &app,
        &spki,
        lang,
        Some(lang.pick(
            "비밀번호를 바꾸었습니다. 메일 프로그램에도 새 비밀번호를 입력하세요.",
            "Your password was changed. Type the new one in your mail program too.",
        )),
    ))
}
