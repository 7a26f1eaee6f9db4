//! What every handler starts from: the app, the peer's certificate, the page language and
//! the request headers, extracted once.

use std::sync::Arc;

use axum::extract::{Extension, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::i18n::Lang;
use crate::identity::Peer;
use crate::router::App;
use crate::security;

/// The caller of a page or an API call (the body, if any, is extracted after it): the
/// app, the peer, the page language (`Accept-Language`; the JSON API does not use it) and
/// the headers. A tuple, so that handlers take it apart in their parameter list.
pub(crate) struct Caller(pub Arc<App>, pub Peer, pub Lang, pub HeaderMap);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let Extension(peer) = Extension::<Peer>::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let lang = Lang::from_header(security::accept_language(&parts.headers));
        Ok(Caller(app.clone(), peer, lang, parts.headers.clone()))
    }
}
