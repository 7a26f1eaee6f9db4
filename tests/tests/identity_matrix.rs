//! The identity matrix (issue 3, "Tests"; DESIGN.md "Identity"): real TLS 1.2 and TLS 1.3
//! handshakes with every kind of client certificate on the implicit-TLS submission port,
//! then SMTP AUTH (PLAIN, and EXTERNAL for a few). Each refusal must reach the client as
//! the exact reply and enhanced code of DESIGN.md's table, with words that say why, and
//! must be in the audit log under its machine code.
//!
//! The IMAP side (NO [AUTHENTICATIONFAILED] / [EXPIRED] / [UNAVAILABLE] / [CONTACTADMIN])
//! is not here: the daemon does not serve IMAP yet.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use certmail_pki::testpki::UserCert;
use certmail_store::{AuditEvent, Store as _};
use certmail_tests::cert_kinds::CertKinds;
use certmail_tests::client_keys::{client_config, openssl_rsa_key, ring_key};
use certmail_tests::fixtures::{Installation, LISTENERS};
use certmail_tests::lines::LineClient;
use certmail_tests::matrix_setup::{self, PASSWORD};
use certmail_tests::{DaemonProcess, tls};
use rustls::SupportedProtocolVersion;
use rustls::sign::SigningKey;

const VERSIONS: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS12, &rustls::version::TLS13];

/// The certificates, made once per test binary (RSA keys take a while).
fn kinds() -> &'static CertKinds {
    static K: OnceLock<CertKinds> = OnceLock::new();
    K.get_or_init(|| CertKinds::generate().expect("test PKI (needs the openssl CLI)"))
}

/// How the client signs in.
#[derive(Debug, Clone, Copy)]
enum Auth {
    /// `AUTH PLAIN` with this user name and password.
    Plain(&'static str, &'static str),
    /// `AUTH EXTERNAL` with this authorization id (`None`: `=`, empty).
    External(Option<&'static str>),
}

/// What the client must hear.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `235`: signed in.
    Accepted,
    /// Refused with this machine code; the reply must name the reason with each of `words`
    /// (case-insensitive).
    Refused(&'static str, &'static [&'static str]),
}

/// One row of the matrix.
struct Case {
    label: &'static str,
    cert: Option<&'static UserCert>,
    auth: Auth,
    expect: Expect,
}

fn case(label: &'static str, cert: Option<&'static UserCert>, auth: Auth, expect: Expect) -> Case {
    Case {
        label,
        cert,
        auth,
        expect,
    }
}

/// Every row: each certificate kind and each account state, with DESIGN.md's reason.
fn matrix() -> Vec<Case> {
    use Auth::*;
    use Expect::*;
    let k = kinds();
    vec![
        case(
            "GPKI ECDSA",
            Some(&k.gpki_ecdsa),
            Plain("kim", PASSWORD),
            Accepted,
        ),
        case(
            "GPKI RSA-2048",
            Some(&k.gpki_rsa),
            Plain("park", PASSWORD),
            Accepted,
        ),
        case(
            "EPKI ECDSA, critical CP",
            Some(&k.epki_ecdsa),
            Plain("hong@test.go.kr", PASSWORD),
            Accepted,
        ),
        case(
            "EPKI RSA-2048, critical CP",
            Some(&k.epki_rsa),
            Plain("lee", PASSWORD),
            Accepted,
        ),
        case(
            "no certificate",
            None,
            Plain("kim", PASSWORD),
            Refused("no_certificate", &["certificate"]),
        ),
        case(
            "unknown critical extension",
            Some(&k.unknown_critical),
            Plain("kim", PASSWORD),
            Refused("unsupported_certificate", &["critical extension"]),
        ),
        case(
            "SHA-1 signature",
            Some(&k.sha1),
            Plain("kim", PASSWORD),
            Refused("unsupported_certificate", &["sha-1"]),
        ),
        case(
            "NPKI chain",
            Some(&k.npki),
            Plain("hong", PASSWORD),
            Refused("npki_certificate", &["bank/npki"]),
        ),
        case(
            "unknown issuer",
            Some(&k.foreign),
            Plain("kim", PASSWORD),
            Refused("unknown_issuer", &["issuer", "not a gpki or epki"]),
        ),
        case(
            "right issuer name, wrong key",
            Some(&k.impostor),
            Plain("kim", PASSWORD),
            Refused("bad_signature", &["signature"]),
        ),
        case(
            "expired",
            Some(&k.expired),
            Plain("kim", PASSWORD),
            Refused("certificate_expired", &["expired"]),
        ),
        case(
            "not yet valid",
            Some(&k.not_yet_valid),
            Plain("kim", PASSWORD),
            Refused("certificate_not_yet_valid", &["valid only from", "clock"]),
        ),
        case(
            "server policy",
            Some(&k.server_policy),
            Plain("kim", PASSWORD),
            Refused("policy_not_allowed", &["server", "personal"]),
        ),
        case(
            "institution policy",
            Some(&k.institution_policy),
            Plain("kim", PASSWORD),
            Refused("policy_not_allowed", &["institution", "personal"]),
        ),
        case(
            "revoked",
            Some(&k.revoked),
            Plain("kim", PASSWORD),
            Refused("certificate_revoked", &["revoked"]),
        ),
        case(
            "revocation unknown (no CRL for its CDP)",
            Some(&k.revocation_unknown),
            Plain("kim", PASSWORD),
            Refused("revocation_unknown", &["revocation list"]),
        ),
        case(
            "not bound",
            Some(&k.not_bound),
            Plain("kim", PASSWORD),
            Refused("certificate_not_bound", &["not registered"]),
        ),
        case(
            "bound to another account",
            Some(&k.gpki_ecdsa),
            Plain("park", PASSWORD),
            Refused("bound_to_other_account", &["another account"]),
        ),
        case(
            "name mismatch",
            Some(&k.name_mismatch),
            Plain("yoon", PASSWORD),
            Refused("name_mismatch", &["안중근", "윤봉길"]),
        ),
        case(
            "account pending",
            Some(&k.pending),
            Plain("jang", PASSWORD),
            Refused("account_pending", &["approval"]),
        ),
        case(
            "account disabled",
            Some(&k.disabled),
            Plain("yu", PASSWORD),
            Refused("account_disabled", &["disabled"]),
        ),
        case(
            "bad password",
            Some(&k.gpki_ecdsa),
            Plain("kim", "Wrong-Pass-1"),
            Refused("bad_password", &["password"]),
        ),
        case(
            "EXTERNAL, expired",
            Some(&k.expired),
            External(None),
            Refused("certificate_expired", &["expired"]),
        ),
        case(
            "EXTERNAL, NPKI",
            Some(&k.npki),
            External(None),
            Refused("npki_certificate", &["bank/npki"]),
        ),
        case(
            "EXTERNAL naming another account",
            Some(&k.gpki_ecdsa),
            External(Some("park")),
            Refused("bound_to_other_account", &["another account"]),
        ),
        case(
            "EXTERNAL without password (required by policy)",
            Some(&k.gpki_ecdsa),
            External(Some("kim@test.go.kr")),
            Refused("bad_password", &["password"]),
        ),
        case(
            "EXTERNAL, no certificate",
            None,
            External(None),
            Refused("no_certificate", &["certificate"]),
        ),
    ]
}

/// DESIGN.md's SMTP reply for a machine code.
fn smtp_reply_of(code: &str) -> &'static str {
    match code {
        "no_certificate" => "530 5.7.0",
        "revocation_unknown" | "too_many_failures" => "454 4.7.0",
        _ => "535 5.7.8",
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn installation() -> anyhow::Result<Installation> {
    matrix_setup::installation(kinds()).await
}

fn start(fx: &Installation) -> anyhow::Result<DaemonProcess> {
    DaemonProcess::start(
        &["serve", "--config", fx.config_path.to_str().expect("utf-8")],
        &[],
        &LISTENERS,
    )
}

/// Stops the daemon cleanly and reads the whole audit log.
async fn stop_and_read_audit(
    fx: &Installation,
    mut daemon: DaemonProcess,
) -> anyhow::Result<Vec<AuditEvent>> {
    daemon.signal("TERM")?;
    daemon.wait_exit(Duration::from_secs(30))?;
    let store = fx.open_store().await?;
    let events = store.audit_range(0, i64::MAX, 1_000_000).await?;
    tokio::task::spawn_blocking(move || drop(store)).await?;
    Ok(events)
}

/// Connects to port 465 with `version`, presenting `cert` (ring key), says EHLO and signs
/// in as `auth` says; returns the AUTH reply.
async fn sign_in(
    fx: &Installation,
    daemon: &DaemonProcess,
    version: &'static SupportedProtocolVersion,
    cert: Option<&UserCert>,
    auth: Auth,
) -> anyhow::Result<String> {
    let client = match cert {
        Some(c) => Some((c.cert_der.as_slice(), ring_key(c)?)),
        None => None,
    };
    let config = client_config(&fx.server_ca, client, version)?;
    let stream = tls::connect(daemon.addr("submissions"), config).await?;
    let negotiated = stream.get_ref().1.protocol_version();
    anyhow::ensure!(
        negotiated == Some(version.version),
        "negotiated {negotiated:?}"
    );
    let mut c = LineClient::new(stream);
    let greeting = c.smtp_reply().await?;
    anyhow::ensure!(greeting.starts_with("220 "), "greeting {greeting:?}");
    let ehlo = c.smtp("EHLO client.test.go.kr").await?;
    anyhow::ensure!(ehlo.contains("AUTH EXTERNAL PLAIN"), "EHLO {ehlo:?}");
    let line = match auth {
        Auth::Plain(user, pw) => format!("AUTH PLAIN {}", b64(&format!("\0{user}\0{pw}"))),
        Auth::External(None) => "AUTH EXTERNAL =".to_string(),
        Auth::External(Some(z)) => format!("AUTH EXTERNAL {}", b64(z)),
    };
    let reply = c.smtp(&line).await?;
    let _ = c.smtp("QUIT").await;
    Ok(reply)
}

/// What is wrong with `reply` for `expect`, if anything.
fn judge(reply: &str, expect: Expect) -> Option<String> {
    match expect {
        Expect::Accepted => {
            (!reply.starts_with("235 ")).then(|| format!("expected 235, got {reply:?}"))
        }
        Expect::Refused(code, words) => {
            let want = format!("{} ", smtp_reply_of(code));
            if !reply.starts_with(&want) {
                return Some(format!("expected {want}({code}), got {reply:?}"));
            }
            let lower = reply.to_lowercase();
            let missing: Vec<_> = words
                .iter()
                .filter(|w| !lower.contains(&w.to_lowercase()))
                .collect();
            (!missing.is_empty()).then(|| format!("{code}: reply {reply:?} lacks {missing:?}"))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_certificate_kind_gets_its_exact_reply_over_tls12_and_tls13() -> anyhow::Result<()> {
    let fx = installation().await?;
    let daemon = start(&fx)?;
    let cases = matrix();
    let mut failures = Vec::new();
    for version in VERSIONS {
        for c in &cases {
            match sign_in(&fx, &daemon, version, c.cert, c.auth).await {
                Ok(reply) => {
                    if let Some(why) = judge(&reply, c.expect) {
                        failures.push(format!("{:?} {}: {why}", version.version, c.label));
                    }
                }
                Err(e) => failures.push(format!("{:?} {}: {e:#}", version.version, c.label)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix failures:\n{}",
        failures.join("\n")
    );

    // Each refusal is in the audit log exactly once per attempt, under its machine code;
    // each accepted sign-in once, with its account.
    let events = stop_and_read_audit(&fx, daemon).await?;
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        let key = match c.expect {
            Expect::Accepted => "(accepted)",
            Expect::Refused(code, _) => code,
        };
        *want.entry(key).or_default() += VERSIONS.len();
    }
    let mut got: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        match e.kind.as_str() {
            "sign_in_ok" => {
                assert!(e.account.is_some(), "{e:?}");
                *got.entry("(accepted)").or_default() += 1;
            }
            "sign_in_refused" => {
                assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{e:?}");
                assert_eq!(
                    e.fields.get("protocol").map(String::as_str),
                    Some("smtp"),
                    "{e:?}"
                );
                let reason = e
                    .fields
                    .get("reason")
                    .map(String::as_str)
                    .unwrap_or("(none)");
                let code = want
                    .keys()
                    .find(|k| **k == reason)
                    .copied()
                    .unwrap_or("(unexpected reason)");
                *got.entry(code).or_default() += 1;
            }
            _ => {}
        }
    }
    assert_eq!(got, want, "audit events per reason");
    Ok(())
}

/// DESIGN.md: every decision is written to the audit log with the certificate's subject,
/// serial, issuer and fingerprint, including refusals of the certificate itself.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_audited_with_the_certificate() -> anyhow::Result<()> {
    let k = kinds();
    let fx = installation().await?;
    let daemon = start(&fx)?;
    let cases: [(&UserCert, &str, &str); 8] = [
        (&k.unknown_critical, "kim", "unsupported_certificate"),
        (&k.npki, "hong", "npki_certificate"),
        (&k.expired, "kim", "certificate_expired"),
        (&k.server_policy, "kim", "policy_not_allowed"),
        (&k.revoked, "kim", "certificate_revoked"),
        (&k.revocation_unknown, "kim", "revocation_unknown"),
        (&k.not_bound, "kim", "certificate_not_bound"),
        (&k.name_mismatch, "yoon", "name_mismatch"),
    ];
    for (cert, user, code) in cases {
        let reply = sign_in(
            &fx,
            &daemon,
            &rustls::version::TLS13,
            Some(cert),
            Auth::Plain(user, PASSWORD),
        )
        .await?;
        assert!(reply.starts_with(smtp_reply_of(code)), "{code}: {reply}");
    }
    let events = stop_and_read_audit(&fx, daemon).await?;
    let mut failures = Vec::new();
    for (cert, user, code) in cases {
        let summary = certmail_pki::cert_summary(&cert.cert_der).expect("parses");
        let spki = hex(&certmail_pki::spki_sha256_of(&cert.cert_der).expect("parses"));
        let Some(e) = events.iter().find(|e| {
            e.kind == "sign_in_refused" && e.fields.get("reason").map(String::as_str) == Some(code)
        }) else {
            failures.push(format!("{code}: no sign_in_refused event"));
            continue;
        };
        for (field, value) in [
            ("subject", summary.subject_dn.as_str()),
            ("issuer", summary.issuer_dn.as_str()),
            ("serial", summary.serial_hex.as_str()),
            ("spki_sha256", spki.as_str()),
            ("user", user),
        ] {
            if e.fields.get(field).map(String::as_str) != Some(value) {
                failures.push(format!(
                    "{code}: field {field} is {:?}, want {value:?}",
                    e.fields.get(field)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "audit failures:\n{}",
        failures.join("\n")
    );
    Ok(())
}

/// KCDSA-like and RSA-1024 keys: the server cannot check proof of possession, so the
/// handshake fails (a TLS alert carries no text) and the audit log says why: one
/// `tls_handshake_failed` event per attempt with the listener and the TLS error.
#[tokio::test(flavor = "multi_thread")]
async fn kcdsa_and_rsa_1024_fail_the_handshake_and_the_audit_log_says_why() -> anyhow::Result<()> {
    let k = kinds();
    let fx = installation().await?;
    let daemon = start(&fx)?;
    let clients: [(&str, &UserCert, Arc<dyn SigningKey>); 2] = [
        ("KCDSA-like", &k.kcdsa, ring_key(&k.kcdsa)?),
        ("RSA-1024", &k.rsa1024, openssl_rsa_key(&k.rsa1024_key)?),
    ];
    for version in VERSIONS {
        for (label, cert, key) in &clients {
            let config = client_config(
                &fx.server_ca,
                Some((&cert.cert_der, Arc::clone(key))),
                version,
            )?;
            // TLS 1.3: the client finishes before the server has checked its
            // CertificateVerify, so the failure may show only on the first read.
            let greeting = match tls::connect(daemon.addr("submissions"), config).await {
                Err(_) => None,
                Ok(stream) => LineClient::new(stream)
                    .line()
                    .await
                    .ok()
                    .filter(|l| !l.is_empty()),
            };
            assert_eq!(
                greeting, None,
                "{:?} {label}: the handshake must fail",
                version.version
            );
        }
    }
    // The daemon still serves a good client afterwards.
    let reply = sign_in(
        &fx,
        &daemon,
        &rustls::version::TLS13,
        Some(&k.gpki_ecdsa),
        Auth::Plain("kim", PASSWORD),
    )
    .await?;
    assert!(reply.starts_with("235 "), "{reply}");

    let events = stop_and_read_audit(&fx, daemon).await?;
    let failed: Vec<&AuditEvent> = events
        .iter()
        .filter(|e| e.kind == "tls_handshake_failed")
        .collect();
    assert_eq!(
        failed.len(),
        clients.len() * VERSIONS.len(),
        "one tls_handshake_failed event per failed handshake: {failed:#?}"
    );
    for e in failed {
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(e.account, None, "{e:?}");
        assert_eq!(
            e.fields.get("listener").map(String::as_str),
            Some("submissions"),
            "{e:?}"
        );
        let error = e
            .fields
            .get("error")
            .map(|s| s.to_lowercase())
            .unwrap_or_default();
        assert!(
            error.contains("signature") || error.contains("certificate"),
            "the error names the failed proof of possession: {e:?}"
        );
    }
    Ok(())
}
