//! The person's out-of-office reply (부재중 자동응답): what is on, turning it on and off.
//! The rules are [`certmail_auth::vacation`]'s, the same `certmail account vacation`
//! follows; here the person is the actor and a refusal gets its Korean sentence.

use certmail_auth::vacation::{self, Actor, Change, VacationRefusal, VacationSpec};
use certmail_sieve::vacation::Reply;

use super::Authorized;
use crate::error::WebError;
use crate::identity::Peer;
use crate::router::App;

/// The reply that is on, if any.
pub(crate) async fn current(app: &App, who: &Authorized) -> Result<Option<Reply>, WebError> {
    Ok(vacation::current(app.ctx.store.as_ref(), &who.account.id).await?)
}

/// Turns the person's reply on (`Some`) or off (`None`).
pub(crate) async fn set(
    app: &App,
    peer: &Peer,
    who: &Authorized,
    spec: Option<VacationSpec>,
) -> Result<Change, WebError> {
    let actor = Actor {
        name: who.account.id.clone(),
        ip: Some(peer.ip.to_string()),
    };
    let store = app.ctx.store.as_ref();
    let quota = app.ctx.script_quota;
    match vacation::set(store, &who.account.id, spec, quota, &actor).await? {
        Ok(change) => {
            tracing::info!(account = %who.account.id, ip = %peer.ip, ?change, "web vacation");
            Ok(change)
        }
        Err(refusal) => Err(refused(&refusal)),
    }
}

/// The refusal as the person sees it: English for the API and English pages (the
/// administrator's limits named as the person can act on them), Korean on Korean pages.
fn refused(r: &VacationRefusal) -> WebError {
    use VacationRefusal as R;
    let (status, en, ko) = match r {
        R::NoAccount(_) => (404, r.to_string(), "계정을 찾을 수 없습니다.".to_string()),
        R::BadDate => (
            400,
            r.to_string(),
            "시작일과 종료일을 YYYY-MM-DD 형식의 날짜로 입력하세요(예: 2026-12-21).".into(),
        ),
        R::DatesReversed { from, until } => (
            400,
            r.to_string(),
            format!(
                "시작일({from})이 종료일({until})보다 늦습니다. 시작일이 종료일과 같거나 앞서도록 고치세요."
            ),
        ),
        R::EmptyMessage => (
            400,
            r.to_string(),
            "자동응답 메시지가 비어 있습니다. 보낸 사람이 받을 내용을 입력하세요.".into(),
        ),
        R::TooLarge { bytes, max } => (
            400,
            format!(
                "The reply would take {bytes} bytes, more than the {max} this server allows; shorten the message."
            ),
            format!(
                "자동응답이 {bytes}바이트로, 이 서버가 허용하는 {max}바이트를 넘습니다. 메시지를 줄이세요."
            ),
        ),
        R::TooManyScripts { max } => (
            409,
            format!(
                "You already have {max} Sieve filter scripts, the most allowed; delete one you no longer use, then try again."
            ),
            format!(
                "필터 스크립트가 이미 허용된 최대 개수({max}개)입니다. 쓰지 않는 스크립트를 지운 뒤 다시 시도하세요."
            ),
        ),
        R::OwnVacation(name) => (
            409,
            format!(
                "Your active filter script \"{name}\" sends its own vacation replies; switch it off or remove its vacation in your mail program first."
            ),
            format!(
                "사용 중인 필터 스크립트 \"{name}\"가 자체 부재중 응답(vacation)을 보냅니다. 메일 프로그램에서 그 스크립트를 끄거나 vacation을 지운 뒤 다시 켜세요."
            ),
        ),
        R::NotOn(_) => (
            409,
            "No out-of-office reply is on.".to_string(),
            "켜져 있는 부재중 자동응답이 없습니다.".to_string(),
        ),
    };
    WebError::refused(status, r.code(), en).with_korean(ko)
}
