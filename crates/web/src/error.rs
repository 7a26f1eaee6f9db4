//! [`WebError`]: everything a request can end in other than success.

use certmail_pki::RefusalReason;

/// Why a request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The client's request is refused (its fault or its situation): an HTTP status, the
    /// machine code (the refusal table's, e.g. `npki_certificate`, or the CLI's
    /// `--json` codes such as `weak_password`) and a sentence the person can act on.
    #[error("{code}: {message}")]
    Refused {
        /// HTTP status (4xx; 503 when the server cannot decide now, e.g. a stale CRL).
        status: u16,
        /// Machine code.
        code: String,
        /// The sentence shown to the person (English: the API's `message`, and English
        /// pages).
        message: String,
        /// The sentence for Korean pages where it says more than the code's sentence in
        /// `i18n` (e.g. which password rule failed); `None`: the code's sentence.
        ko: Option<String>,
    },
    /// The accounts layer failed on our side.
    #[error("accounts: {0}")]
    Auth(#[from] certmail_auth::AuthError),
    /// The store failed on our side.
    #[error("store: {0}")]
    Store(#[from] certmail_store::StoreError),
    /// Accepting connections failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

impl WebError {
    /// A refusal with `status`, `code` and `message`.
    pub fn refused(status: u16, code: &str, message: impl Into<String>) -> WebError {
        WebError::Refused {
            status,
            code: code.to_string(),
            message: message.into(),
            ko: None,
        }
    }

    /// The refusal with `text` as its sentence on Korean pages (other errors unchanged).
    pub fn with_korean(mut self, text: impl Into<String>) -> WebError {
        if let WebError::Refused { ko, .. } = &mut self {
            *ko = Some(text.into());
        }
        self
    }

    /// A refusal of DESIGN.md's identity table, with the same code and sentence as IMAP.
    pub fn from_refusal(refusal: &certmail_pki::Refusal) -> WebError {
        WebError::refused(
            status_of(refusal.reason),
            refusal.reason.code(),
            refusal.message.clone(),
        )
    }

    /// (status, code, message) as the client sees it: our own failures say only that
    /// something went wrong on our side (the detail goes to the log).
    pub fn public(&self) -> (u16, String, String) {
        match self {
            WebError::Refused {
                status,
                code,
                message,
                ..
            } => (*status, code.clone(), message.clone()),
            _ => (
                500,
                "internal".into(),
                "Temporary problem on the server; try again shortly.".into(),
            ),
        }
    }
}

/// The HTTP status for a refusal reason: 401 when a certificate or second factor is
/// missing or wrong, 429 for the per-IP throttle, 503 when the server cannot decide
/// (revocation status unknown), 403 otherwise.
pub fn status_of(reason: RefusalReason) -> u16 {
    match reason {
        RefusalReason::NoCertificate
        | RefusalReason::BadPassword
        | RefusalReason::TotpRequired
        | RefusalReason::TotpInvalid => 401,
        RefusalReason::TooManyFailures => 429,
        RefusalReason::RevocationUnknown => 503,
        _ => 403,
    }
}
