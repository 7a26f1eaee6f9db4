//! Korean first, English by `Accept-Language` (RFC 9110 §12.5.4): the first of `ko` or
//! `en` by quality wins; anything else, or no header, gets Korean. Pages write each
//! sentence in both languages beside each other (`lang.pick("…", "…")`), so a missing
//! translation is impossible to miss.

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Ko,
    En,
}

impl Lang {
    /// From an `Accept-Language` header value.
    pub(crate) fn from_header(value: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ko") => Lang::Ko,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Ko, |(_, l)| l)
    }

    /// The `lang` attribute.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    /// The Korean or the English text.
    pub(crate) fn pick(self, ko: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ko => ko,
            Lang::En => en,
        }
    }
}

/// A refusal's sentence in `lang`: English is the refusal's own message; Korean is the
/// refusal's Korean sentence where it has one (it says more, e.g. which password rule
/// failed), else the sentence for its code ([`korean_for_code`]). The code itself is the
/// same in both languages.
pub(crate) fn refusal_sentence(err: &crate::WebError, lang: Lang) -> String {
    let (_, code, message) = err.public();
    match (lang, err) {
        (Lang::En, _) => message,
        (Lang::Ko, crate::WebError::Refused { ko: Some(ko), .. }) => ko.clone(),
        (Lang::Ko, _) => korean_for_code(&code).map_or(message, str::to_string),
    }
}

/// The Korean sentence for a refusal code: every code of DESIGN.md's identity table and
/// every code the web answers with. `None` for a code not listed (a test keeps the list
/// whole).
pub(crate) fn korean_for_code(code: &str) -> Option<&'static str> {
    Some(match code {
        // DESIGN.md's identity table (the same codes as IMAP and SMTP).
        "no_certificate" => "인증서가 없습니다. GPKI 또는 EPKI 인증서를 선택해 다시 접속하세요.",
        "unsupported_certificate" => {
            "이 인증서는 사용할 수 없는 형식입니다(SHA-1, RSA 2048비트 미만 또는 알 수 없는 중요 확장). 인증서를 재발급받으세요."
        }
        "npki_certificate" => {
            "공동인증서(NPKI, 은행·증권용)로는 접속할 수 없습니다. GPKI 또는 EPKI 인증서를 선택하세요."
        }
        "unknown_issuer" => "이 서버가 신뢰하는 GPKI/EPKI 인증기관이 발급한 인증서가 아닙니다.",
        "bad_signature" => "인증서의 서명이 올바르지 않습니다. 발급기관에 문의하세요.",
        "certificate_expired" => {
            "인증서의 유효기간이 지났습니다. 인증서를 갱신한 뒤 새 인증서로 접속하세요."
        }
        "certificate_not_yet_valid" => {
            "인증서의 유효기간이 아직 시작되지 않았습니다. 유효기간이 시작된 뒤 접속하세요."
        }
        "policy_not_allowed" => {
            "이 용도의 인증서(서버용, 기관용 등)로는 접속할 수 없습니다. 개인용 GPKI/EPKI 인증서를 선택하세요."
        }
        "certificate_revoked" => "폐지된 인증서입니다. 인증서를 새로 발급받으세요.",
        "revocation_unknown" => {
            "인증서의 폐지 여부를 지금 확인할 수 없습니다. 잠시 후 다시 시도하고, 계속되면 메일 관리자에게 알리세요."
        }
        "certificate_not_bound" => {
            "이 인증서로 등록된 계정이 없습니다. 가입 신청을 하거나, 인증서를 갱신했다면 새 인증서를 등록하세요."
        }
        "bound_to_other_account" => "이 인증서는 다른 계정에 등록되어 있습니다.",
        "name_mismatch" => "인증서의 이름이 계정의 이름과 다릅니다. 메일 관리자에게 문의하세요.",
        "account_pending" => {
            "가입 신청이 아직 승인되지 않았습니다. 기관 관리자의 승인을 기다리세요."
        }
        "account_disabled" => "사용이 중지된 계정입니다. 메일 관리자에게 문의하세요.",
        "account_locked" => {
            "비밀번호를 여러 번 틀려 계정이 잠겼습니다. 잠시 후 다시 시도하거나 기관 관리자에게 잠금 해제를 요청하세요."
        }
        "network_not_allowed" => {
            "지금 접속한 네트워크에서는 이 계정을 사용할 수 없습니다. 허용된 네트워크에서 접속하세요."
        }
        "bad_password" => "비밀번호가 맞지 않습니다.",
        "totp_required" => {
            "이 기기에서는 OTP 코드가 필요합니다. 인증 앱에 표시된 6자리 코드를 함께 입력하세요."
        }
        "totp_invalid" => {
            "OTP 코드가 맞지 않습니다. 휴대전화의 시각을 확인하고 지금 표시된 코드를 입력하세요."
        }
        "password_expired" => {
            "비밀번호의 사용 기간이 지났습니다. 비밀번호 변경 화면에서 새 비밀번호로 바꾸세요."
        }
        "temporary_password_expired" => {
            "임시 비밀번호의 사용 기간이 지났습니다. 기관 관리자에게 새 임시 비밀번호를 요청하세요."
        }
        "too_many_failures" => "이 주소에서 실패한 시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
        // The web's own codes.
        "password_required" => "비밀번호(사용하는 경우 OTP 코드도)를 입력해야 합니다.",
        "session_ended" => {
            "다른 기기에서 로그인하여 브라우저 세션이 끝났습니다. 비밀번호를 입력해 다시 시작하세요."
        }
        "session_rejected" => {
            "다른 기기에서 이미 로그인되어 있습니다. 그 기기에서 먼저 로그아웃하세요."
        }
        "cross_origin" => {
            "다른 사이트에서 보낸 요청은 받지 않습니다. 이 사이트의 화면에서 다시 하세요."
        }
        "bad_form_token" => "양식의 유효 시간이 지났습니다. 화면을 다시 열고 입력하세요.",
        "too_many_requests" => "이 주소에서 요청이 너무 많습니다. 1분 뒤에 다시 시도하세요.",
        "no_enrolment" => "기다리는 OTP 등록이 없습니다. OTP 등록을 처음부터 다시 시작하세요.",
        "totp_off" => "이 계정은 OTP를 사용하지 않습니다.",
        "already_bound" => "이 인증서는 이미 계정에 등록되어 있습니다.",
        "person_has_account" => "이 인증서의 소유자는 이미 계정이 있습니다(1인 1계정).",
        "weak_password" => "새 비밀번호가 비밀번호 규칙에 맞지 않습니다.",
        "exists" => "이미 있는 계정 ID이거나 다른 계정이 쓰는 메일 주소입니다. 다른 것을 고르세요.",
        "invalid" => "입력한 내용이 올바르지 않습니다. 확인하고 다시 입력하세요.",
        "not_found" => "찾는 항목이 없습니다.",
        "not_org_admin" => "기관 관리자만 할 수 있습니다.",
        "outside_organisation" => "관리하는 기관의 계정이 아닙니다.",
        "not_pending" => "승인을 기다리는 계정이 아닙니다.",
        "internal" => "서버에 일시적인 문제가 있습니다. 잠시 후 다시 시도하세요.",
        _ => return None,
    })
}

/// An account refusal (sign-up) in Korean, with what it names.
pub(crate) fn account_refusal_ko(r: &certmail_auth::accounts::AccountRefusal) -> String {
    use certmail_auth::accounts::AccountRefusal as R;
    match r {
        R::BadId(id) => format!(
            "계정 ID `{id}`는 쓸 수 없습니다. 영문 소문자, 숫자, '.', '_', '-'로 1~64자를 쓰세요."
        ),
        R::BadAddress(a) => format!("`{a}`는 메일 주소가 아닙니다(이름@도메인)."),
        R::NoName => "인증서에 이름이 없습니다. 메일 관리자에게 문의하세요.".to_string(),
        R::Exists(id) => format!("계정 ID `{id}`는 이미 있습니다. 다른 ID를 고르세요."),
        R::AddressTaken(a, _) => {
            format!("메일 주소 {a}는 이미 다른 계정이 쓰고 있습니다. 다른 주소를 고르세요.")
        }
        R::NotFound(id) => format!("계정 `{id}`가 없습니다."),
        R::WeakPassword(_) => korean_for_code("weak_password")
            .unwrap_or_default()
            .to_string(),
    }
}

/// Which password rule `password` breaks, in Korean (for the refusal of a new password):
/// the same checks, in the same order, as `certmail_auth`'s rules.
pub(crate) fn weak_password_ko(
    rules: &certmail_auth::policy::PasswordRules,
    id: &str,
    password: &str,
) -> String {
    let len = password.chars().count();
    let why = if len < rules.min_length {
        format!("{len}자입니다. {}자 이상으로 하세요", rules.min_length)
    } else if certmail_auth::policy::PasswordRules::classes_in(password) < rules.classes {
        format!(
            "소문자·대문자·숫자·기호 중 {}종류 이상을 섞으세요",
            rules.classes
        )
    } else if !id.is_empty() && password.to_lowercase().contains(&id.to_lowercase()) {
        "계정 ID를 포함할 수 없습니다".to_string()
    } else {
        format!(
            "최소 {}자, 소문자·대문자·숫자·기호 중 {}종류 이상, 계정 ID 포함 금지",
            rules.min_length, rules.classes
        )
    };
    format!("새 비밀번호가 규칙에 맞지 않습니다: {why}.")
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn every_refusal_code_has_a_korean_sentence() {
        for r in certmail_pki::RefusalReason::ALL {
            assert!(super::korean_for_code(r.code()).is_some(), "{}", r.code());
        }
        // The web's own codes (services/, security.rs, api.rs, the account refusals).
        for code in [
            "password_required",
            "session_ended",
            "session_rejected",
            "cross_origin",
            "bad_form_token",
            "too_many_requests",
            "no_enrolment",
            "totp_off",
            "already_bound",
            "person_has_account",
            "weak_password",
            "exists",
            "invalid",
            "not_found",
            "not_org_admin",
            "outside_organisation",
            "not_pending",
            "internal",
        ] {
            assert!(super::korean_for_code(code).is_some(), "{code}");
        }
    }

    #[test]
    fn the_korean_password_refusal_names_the_rule() {
        let rules = certmail_auth::policy::PasswordRules {
            min_length: 10,
            classes: 3,
        };
        let ko = |pw: &str| super::weak_password_ko(&rules, "kang", pw);
        assert!(
            ko("Ab1!").contains("4자입니다. 10자 이상"),
            "{}",
            ko("Ab1!")
        );
        assert!(
            ko("abcdefghijkl").contains("3종류 이상"),
            "{}",
            ko("abcdefghijkl")
        );
        assert!(
            ko("Kang-2026-Pass").contains("계정 ID"),
            "{}",
            ko("Kang-2026-Pass")
        );
    }

    #[test]
    fn korean_unless_english_is_preferred() {
        assert_eq!(Lang::from_header(""), Lang::Ko);
        assert_eq!(Lang::from_header("fr-FR"), Lang::Ko);
        assert_eq!(Lang::from_header("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_header("en;q=0.5, ko-KR"), Lang::Ko);
        assert_eq!(Lang::from_header("ko;q=0.3, en;q=0.8"), Lang::En);
    }
}
