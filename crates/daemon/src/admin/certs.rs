//! Admin requests about certificates: `certmail cert bind|unbind|list|inspect`.

use base64::Engine as _;
use certmail_session::KickReason;
use serde_json::json;

use super::Response;
use super::context::{AdminContext, counted, ended};

/// `cert bind`: binds a certificate (the file's bytes, base64) to an account.
pub(super) async fn bind(
    ctx: &AdminContext,
    account: &str,
    cert_b64: &str,
) -> anyhow::Result<Response> {
    let der = match decode_cert(cert_b64) {
        Ok(der) => der,
        Err(refused) => return Ok(refused),
    };
    let now = certmail_auth::now();
    match certmail_auth::bind_certificate(ctx.store.as_ref(), &ctx.pki, account, &der, now).await? {
        Ok(b) => Ok(Response::ok(
            format!("certificate {} bound to {account}", b.subject_dn),
            json!({ "binding": binding_json(&b) }),
        )),
        Err(e) => Ok(Response::fail(&e.code(), e.to_string())),
    }
}

/// `cert unbind`: removes a binding by SPKI SHA-256 and ends the account's session.
pub(super) async fn unbind(
    ctx: &AdminContext,
    account: &str,
    spki_sha256: &str,
) -> anyhow::Result<Response> {
    let Some(spki) = parse_spki(spki_sha256) else {
        return Ok(Response::fail(
            "bad_request",
            "the SPKI SHA-256 must be 64 hex digits, as `certmail cert list` prints it",
        ));
    };
    match ctx.store.unbind_cert(account, &spki).await {
        Ok(()) => {
            let n = ctx.kick(account, KickReason::CertificateUnbound).await;
            Ok(Response::ok(
                format!("certificate unbound from {account}{}", ended(n)),
                serde_json::Value::Null,
            ))
        }
        Err(certmail_store::StoreError::BindingNotFound) => Ok(Response::fail(
            "not_found",
            format!("{account} has no certificate with that SPKI SHA-256"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `cert list`: the bindings of one account, or of all.
pub(super) async fn list(ctx: &AdminContext, account: Option<&str>) -> anyhow::Result<Response> {
    let store = &ctx.store;
    let bindings = match account {
        Some(a) => store.bindings_of(a).await?,
        None => {
            let mut all = Vec::new();
            for a in store.list_accounts().await? {
                all.extend(store.bindings_of(&a.id).await?);
            }
            all
        }
    };
    let list: Vec<_> = bindings.iter().map(binding_json).collect();
    Ok(Response::ok(
        counted(list.len() as u64, "certificate", "certificates"),
        json!({ "certificates": list }),
    ))
}

/// `cert inspect`: what the server would decide about a certificate, and why (`ok` is
/// whether it is accepted).
pub(super) async fn inspect(
    ctx: &AdminContext,
    cert_b64: &str,
    account: Option<&str>,
) -> anyhow::Result<Response> {
    let der = match decode_cert(cert_b64) {
        Ok(der) => der,
        Err(refused) => return Ok(refused),
    };
    let now = certmail_auth::now();
    let report = certmail_auth::inspect(ctx.store.as_ref(), &ctx.pki, &der, account, now).await?;
    let mut data = serde_json::to_value(&report)?;
    if let Some(t) = data["identity"]["not_after"].as_i64() {
        data["identity"]["not_after"] = crate::dates::rfc3339(t).into();
    }
    data["certificate"] = certmail_pki::cert_summary(&der).map_or(serde_json::Value::Null, |c| {
        json!({
            "subject": c.subject_dn, "issuer": c.issuer_dn, "serial": c.serial_hex,
            "not_before": crate::dates::rfc3339(c.not_before),
            "not_after": crate::dates::rfc3339(c.not_after),
            "policies": c.policy_oids, "crl_distribution_points": c.cdp_uris,
            "sha256": c.sha256_hex,
        })
    });
    let failed = report.refusal.as_ref().map(|r| r.code.as_str());
    data["steps"] = steps(failed, account.is_some(), report.refusal.as_ref());
    Ok(match &report.refusal {
        None => Response::ok(report.summary.clone(), data),
        Some(r) => Response {
            ok: false,
            code: Some(r.code.clone()),
            // The CLI prints "refused (code): "; the summary's own "REFUSE (code): " would
            // say it twice.
            message: report
                .summary
                .strip_prefix(&format!("REFUSE ({}): ", r.code))
                .unwrap_or(&report.summary)
                .to_string(),
            data,
        },
    })
}

/// The decision's steps in the order the server takes them (DESIGN.md's sign-in table),
/// with each refusal code under the step that gives it.
const STEPS: [(&str, &[&str]); 8] = [
    ("format", &["no_certificate", "unsupported_certificate"]),
    (
        "issuer",
        &["npki_certificate", "unknown_issuer", "bad_signature"],
    ),
    (
        "validity",
        &["certificate_expired", "certificate_not_yet_valid"],
    ),
    ("policy", &["policy_not_allowed"]),
    ("revocation", &["certificate_revoked", "revocation_unknown"]),
    (
        "binding",
        &["certificate_not_bound", "bound_to_other_account"],
    ),
    ("name", &["name_mismatch"]),
    (
        "account state",
        &["account_pending", "account_disabled", "account_locked"],
    ),
];

/// Each step as `{step, result, detail}`: `ok` before the one that refused, `refused` there
/// (with the sentence), `not checked` after it; the account's steps are `not checked`
/// without `--account`.
fn steps(
    failed: Option<&str>,
    with_account: bool,
    refusal: Option<&certmail_auth::RefusalReport>,
) -> serde_json::Value {
    let mut stopped = false;
    let list: Vec<_> = STEPS
        .iter()
        .enumerate()
        .map(|(i, (step, codes))| {
            let (result, detail) = if stopped {
                ("not checked", String::new())
            } else if failed.is_some_and(|f| codes.contains(&f)) {
                stopped = true;
                (
                    "refused",
                    refusal.map(|r| r.message.clone()).unwrap_or_default(),
                )
            } else if i >= 5 && !with_account {
                ("not checked", "pass --account to check it".to_string())
            } else {
                ("ok", String::new())
            };
            json!({ "step": step, "result": result, "detail": detail })
        })
        .collect();
    serde_json::Value::Array(list)
}

/// A binding as admin answers show it.
pub(super) fn binding_json(b: &certmail_store::CertBinding) -> serde_json::Value {
    json!({
        "account": b.account, "subject": b.subject_dn, "issuer": b.issuer_dn, "serial": b.serial_hex,
        "spki_sha256": hex::encode(b.spki_sha256), "not_after": b.not_after, "bound_at": b.bound_at,
    })
}

/// The DER certificate in a file's bytes (base64 on the wire); a file that holds none is
/// the user's input error (`invalid`), not the server's.
fn decode_cert(b64: &str) -> Result<Vec<u8>, Response> {
    let not_a_cert = |why: String| {
        Response::fail(
            "invalid",
            format!("the file is not a certificate ({why}); give a PEM or DER X.509 certificate"),
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| not_a_cert(e.to_string()))?;
    certmail_auth::cert_der_from_file_bytes(&raw).map_err(|e| not_a_cert(e.to_string()))
}

fn parse_spki(s: &str) -> Option<[u8; 32]> {
    let v = hex::decode(s.trim()).ok()?;
    v.try_into().ok()
}
