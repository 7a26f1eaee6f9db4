//! `certmail cert inspect`: the helpdesk tool (issue 3). For every kind of certificate it
//! prints ACCEPT, or `refused (code):`, and a sentence a helpdesk can read out,
//! exits 0 or 1, `--json` parses with the same decision, and `--account` adds the binding,
//! name and account-state checks. Same answers from the store (daemon stopped) and through
//! the admin socket (daemon running).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use certmail_pki::testpki::UserCert;
use certmail_tests::cert_kinds::{CertKinds, write_pem};
use certmail_tests::fixtures::{Installation, LISTENERS};
use certmail_tests::{DaemonProcess, matrix_setup};
use serde_json::Value;

fn kinds() -> &'static CertKinds {
    static K: OnceLock<CertKinds> = OnceLock::new();
    K.get_or_init(|| CertKinds::generate().expect("test PKI (needs the openssl CLI)"))
}

/// The decision `cert inspect` must print.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// ACCEPT; the person's name and PKI are shown.
    Accept(&'static str, &'static str),
    /// REFUSE with this code; the sentence contains each word (case-insensitive).
    Refuse(&'static str, &'static [&'static str]),
}

/// DESIGN.md's IMAP response code for a refusal.
fn imap_code_of(code: &str) -> &'static str {
    match code {
        "certificate_expired" | "certificate_not_yet_valid" => "EXPIRED",
        "revocation_unknown" => "UNAVAILABLE",
        "account_pending" | "account_disabled" | "account_locked" => "CONTACTADMIN",
        _ => "AUTHENTICATIONFAILED",
    }
}

/// DESIGN.md's SMTP reply for a refusal.
fn smtp_reply_of(code: &str) -> &'static str {
    match code {
        "no_certificate" => "530 5.7.0",
        "revocation_unknown" => "454 4.7.0",
        _ => "535 5.7.8",
    }
}

/// Each certificate kind judged alone (no `--account`: binding and name not checked).
fn without_account() -> Vec<(&'static str, &'static UserCert, Want)> {
    use Want::*;
    let k = kinds();
    vec![
        ("GPKI ECDSA", &k.people.gpki_ecdsa, Accept("김철수", "GPKI")),
        (
            "GPKI RSA-2048",
            &k.people.gpki_rsa,
            Accept("박민수", "GPKI"),
        ),
        ("EPKI ECDSA", &k.people.epki_ecdsa, Accept("홍길동", "EPKI")),
        (
            "EPKI RSA-2048",
            &k.people.epki_rsa,
            Accept("이순신", "EPKI"),
        ),
        ("unbound but good", &k.not_bound, Accept("강감찬", "GPKI")),
        (
            "KCDSA-like key",
            &k.kcdsa,
            Refuse("unsupported_certificate", &["kcdsa"]),
        ),
        (
            "RSA-1024",
            &k.rsa1024,
            Refuse("unsupported_certificate", &["1024", "2048"]),
        ),
        (
            "SHA-1",
            &k.sha1,
            Refuse("unsupported_certificate", &["sha-1"]),
        ),
        (
            "unknown critical extension",
            &k.unknown_critical,
            Refuse(
                "unsupported_certificate",
                &["critical extension", "1.2.3.4.5.6.7"],
            ),
        ),
        (
            "NPKI",
            &k.npki,
            Refuse("npki_certificate", &["bank/npki", "yessign"]),
        ),
        (
            "unknown issuer",
            &k.foreign,
            Refuse("unknown_issuer", &["example issuing ca"]),
        ),
        (
            "bad signature",
            &k.impostor,
            Refuse("bad_signature", &["signature"]),
        ),
        (
            "expired",
            &k.expired,
            Refuse("certificate_expired", &["expired", "renew"]),
        ),
        (
            "not yet valid",
            &k.not_yet_valid,
            Refuse("certificate_not_yet_valid", &["valid only from"]),
        ),
        (
            "server policy",
            &k.server_policy,
            Refuse("policy_not_allowed", &["server", "1.2.410.100001.2.1.2"]),
        ),
        (
            "institution policy",
            &k.institution_policy,
            Refuse(
                "policy_not_allowed",
                &["institution", "1.2.410.100001.2.1.1"],
            ),
        ),
        (
            "revoked",
            &k.revoked,
            Refuse("certificate_revoked", &["revoked"]),
        ),
        (
            "revocation unknown",
            &k.revocation_unknown,
            Refuse("revocation_unknown", &["revocation list", "crl1p1dp148"]),
        ),
    ]
}

/// Certificates checked against an account.
fn with_account() -> Vec<(&'static str, &'static UserCert, &'static str, Want)> {
    use Want::*;
    let k = kinds();
    vec![
        (
            "own account",
            &k.people.gpki_ecdsa,
            "kim",
            Accept("김철수", "GPKI"),
        ),
        (
            "own account by address",
            &k.people.epki_ecdsa,
            "hong@test.go.kr",
            Accept("홍길동", "EPKI"),
        ),
        (
            "another account",
            &k.people.gpki_ecdsa,
            "park",
            Refuse("bound_to_other_account", &["another account"]),
        ),
        (
            "not bound",
            &k.not_bound,
            "kim",
            Refuse("certificate_not_bound", &["not registered", "강감찬"]),
        ),
        (
            "name mismatch",
            &k.name_mismatch,
            "yoon",
            Refuse("name_mismatch", &["안중근", "윤봉길"]),
        ),
        (
            "pending",
            &k.pending,
            "jang",
            Refuse("account_pending", &["approval"]),
        ),
        (
            "disabled",
            &k.disabled,
            "yu",
            Refuse("account_disabled", &["disabled"]),
        ),
        // The certificate's own refusal comes first (DESIGN.md's order).
        (
            "expired, any account",
            &k.expired,
            "kim",
            Refuse("certificate_expired", &["expired"]),
        ),
    ]
}

struct Run {
    exit: i32,
    human: String,
    json: Value,
}

fn inspect(fx: &Installation, file: &Path, account: Option<&str>) -> anyhow::Result<Run> {
    let mut args = vec!["cert", "inspect", file.to_str().expect("utf-8")];
    if let Some(a) = account {
        args.extend(["--account", a]);
    }
    let (exit, out, err) = fx.certmail(&args)?;
    args.push("--json");
    let (json_exit, json_out, json_err) = fx.certmail(&args)?;
    anyhow::ensure!(
        exit == json_exit,
        "exit {exit} without --json, {json_exit} with"
    );
    let json = serde_json::from_str(&json_out)
        .map_err(|e| anyhow::anyhow!("--json output does not parse ({e}): {json_out}{json_err}"))?;
    Ok(Run {
        exit,
        human: format!("{out}{err}"),
        json,
    })
}

/// What is wrong with `run` for `want`, if anything.
fn judge(run: &Run, want: Want) -> Vec<String> {
    let mut bad = Vec::new();
    let j = &run.json;
    let mut check = |ok: bool, what: String| {
        if !ok {
            bad.push(what);
        }
    };
    match want {
        Want::Accept(name, pki) => {
            check(run.exit == 0, format!("exit {} (want 0)", run.exit));
            check(
                run.human.contains("ACCEPT"),
                format!("no ACCEPT in {:?}", run.human),
            );
            check(
                run.human.contains(name),
                format!("name {name} not in {:?}", run.human),
            );
            check(j["ok"] == true, format!("json ok is {}", j["ok"]));
            check(
                j["data"]["identity"]["name"] == name,
                format!("json name {}", j["data"]["identity"]["name"]),
            );
            check(
                j["data"]["identity"]["pki"] == pki,
                format!("json pki {}", j["data"]["identity"]["pki"]),
            );
        }
        Want::Refuse(code, words) => {
            check(run.exit == 1, format!("exit {} (want 1)", run.exit));
            check(
                run.human.contains(&format!("refused ({code}): ")),
                format!("no `refused ({code}): ` in {:?}", run.human),
            );
            check(
                run.human.matches(&format!("({code})")).count() == 1,
                format!("the code twice in {:?}", run.human),
            );
            check(j["ok"] == false, format!("json ok is {}", j["ok"]));
            check(j["code"] == code, format!("json code {}", j["code"]));
            let refusal = &j["data"]["refusal"];
            let sentence = refusal["message"].as_str().unwrap_or_default();
            // A sentence to read out: whole, one line, ending with a full stop, also printed
            // for the human.
            check(
                sentence.len() > 30 && sentence.ends_with('.') && !sentence.contains('\n'),
                format!("not a sentence: {sentence:?}"),
            );
            check(
                run.human.contains(sentence),
                format!("sentence not printed: {:?}", run.human),
            );
            let lower = sentence.to_lowercase();
            for w in words {
                check(
                    lower.contains(&w.to_lowercase()),
                    format!("sentence lacks {w:?}: {sentence:?}"),
                );
            }
            let imap = format!("NO [{}] ", imap_code_of(code));
            check(
                refusal["imap"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(&imap),
                format!("imap {} (want {imap}…)", refusal["imap"]),
            );
            let smtp = format!("{} ", smtp_reply_of(code));
            check(
                refusal["smtp"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(&smtp),
                format!("smtp {} (want {smtp}…)", refusal["smtp"]),
            );
        }
    }
    bad
}

fn cert_file(fx: &Installation, label: &str, cert: &UserCert) -> anyhow::Result<PathBuf> {
    let stem: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Ok(write_pem(&fx.dir.path().join("inspect"), &stem, cert)?.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_explains_every_kind_of_certificate() -> anyhow::Result<()> {
    let fx = matrix_setup::installation(kinds()).await?;
    let mut failures = Vec::new();
    for (label, cert, want) in without_account() {
        let run = inspect(&fx, &cert_file(&fx, label, cert)?, None)?;
        failures.extend(
            judge(&run, want)
                .into_iter()
                .map(|b| format!("{label}: {b}")),
        );
    }
    for (label, cert, account, want) in with_account() {
        let run = inspect(&fx, &cert_file(&fx, label, cert)?, Some(account))?;
        failures.extend(
            judge(&run, want)
                .into_iter()
                .map(|b| format!("{label} --account {account}: {b}")),
        );
    }
    assert!(
        failures.is_empty(),
        "cert inspect failures:\n{}",
        failures.join("\n")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_without_account_says_binding_is_not_checked() -> anyhow::Result<()> {
    let k = kinds();
    let fx = matrix_setup::installation(k).await?;
    // 안중근's certificate is fine on its own; only --account finds the name mismatch.
    let file = cert_file(&fx, "name-mismatch", &k.name_mismatch)?;
    let alone = inspect(&fx, &file, None)?;
    assert_eq!(alone.exit, 0, "{}", alone.human);
    assert!(
        alone.human.contains("--account"),
        "says how to check the binding: {}",
        alone.human
    );
    let bound = inspect(&fx, &file, Some("yoon"))?;
    assert_eq!(bound.exit, 1, "{}", bound.human);
    assert_eq!(bound.json["code"], "name_mismatch");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_through_the_running_daemon_gives_the_same_answers() -> anyhow::Result<()> {
    let k = kinds();
    let fx = matrix_setup::installation(k).await?;
    let samples: [(&str, &UserCert, Option<&str>); 4] = [
        ("own", &k.people.gpki_ecdsa, Some("kim")),
        ("expired", &k.expired, None),
        ("pending", &k.pending, Some("jang")),
        ("name-mismatch", &k.name_mismatch, Some("yoon")),
    ];
    let mut offline = Vec::new();
    for (label, cert, account) in samples {
        offline.push(inspect(&fx, &cert_file(&fx, label, cert)?, account)?);
    }
    let daemon = DaemonProcess::start(
        &["serve", "--config", fx.config_path.to_str().expect("utf-8")],
        &[],
        &LISTENERS,
    )?;
    for ((label, cert, account), before) in samples.into_iter().zip(offline) {
        let live = inspect(&fx, &cert_file(&fx, label, cert)?, account)?;
        assert_eq!(live.exit, before.exit, "{label}: {}", live.human);
        assert_eq!(live.json["code"], before.json["code"], "{label}");
        assert_eq!(
            live.json["data"]["refusal"], before.json["data"]["refusal"],
            "{label}"
        );
        assert_eq!(
            live.json["data"]["identity"], before.json["data"]["identity"],
            "{label}"
        );
    }
    drop(daemon);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_of_a_file_that_is_no_certificate_fails_plainly() -> anyhow::Result<()> {
    let fx = Installation::new()?;
    let file = fx.dir.path().join("notes.txt");
    std::fs::write(&file, "홍길동's certificate is on the USB stick\n")?;
    let (exit, out, err) = fx.certmail(&["cert", "inspect", file.to_str().expect("utf-8")])?;
    assert_eq!(exit, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").to_lowercase().contains("certificate"),
        "says what is wrong: {out}{err}"
    );
    assert!(
        err.contains("refused (invalid)") && !err.contains("internal"),
        "a user's file is the user's input error, not the server's: {err}"
    );
    Ok(())
}
