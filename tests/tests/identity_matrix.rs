//! The identity matrix (issue 3, "Tests"; DESIGN.md "Identity"): real TLS 1.2 and TLS 1.3
//! handshakes with every kind of client certificate on the implicit-TLS ports, then a
//! sign-in: SMTP `AUTH` on 465 and IMAP `AUTHENTICATE` on 993, PLAIN (and EXTERNAL for a
//! few). Each refusal must reach the client as the exact reply of DESIGN.md's table (SMTP
//! code + enhanced code, IMAP `NO [CODE]`), with words that say why, and be in the audit
//! log once under its machine code. KCDSA-like and RSA-1024 keys fail the handshake and
//! the audit log records why.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use certmail_pki::testpki::UserCert;
use certmail_store::AuditEvent;
use certmail_tests::cert_kinds::CertKinds;
use certmail_tests::fixtures::{Installation, LISTENERS};
use certmail_tests::lines::LineClient;
use certmail_tests::matrix_setup::{self, PASSWORD};
use certmail_tests::signin_client::{self, Auth, Proto};
use certmail_tests::tls::{ClientCert, client_config, openssl_rsa_key, ring_key};
use certmail_tests::{DaemonProcess, tls};
use rustls::SupportedProtocolVersion;
use rustls::sign::SigningKey;

const VERSIONS: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS12, &rustls::version::TLS13];
/// 465, 993, and 587 / 143 after STARTTLS.
const PROTOS: [Proto; 4] = Proto::ALL;

/// The certificates, made once per test binary (RSA keys take a while).
fn kinds() -> &'static CertKinds {
    static K: OnceLock<CertKinds> = OnceLock::new();
    K.get_or_init(|| CertKinds::generate().expect("test PKI (needs the openssl CLI)"))
}

/// What the client must hear.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Signed in: SMTP `235`, IMAP `OK`.
    Accepted,
    /// Refused with this machine code; the reply must name the reason with each of `words`
    /// (case-insensitive).
    Refused(&'static str, &'static [&'static str]),
}

/// One row of the matrix.
struct Case {
    label: &'static str,
    cert: Option<&'static UserCert>,
    auth: Auth<'static>,
    expect: Expect,
}

/// Every row: each certificate kind and each account state, with DESIGN.md's reason.
#[rustfmt::skip]
fn matrix() -> Vec<Case> {
    use Auth::*;
    use Expect::*;
    let k = kinds();
    let case = |label, cert, auth, expect| Case { label, cert, auth, expect };
    vec![
        case("GPKI ECDSA", Some(&k.people.gpki_ecdsa), Plain("kim", PASSWORD), Accepted),
        case("GPKI RSA-2048", Some(&k.people.gpki_rsa), Plain("park", PASSWORD), Accepted),
        case("EPKI ECDSA, critical CP", Some(&k.people.epki_ecdsa), Plain("hong@test.go.kr", PASSWORD), Accepted),
        case("EPKI RSA-2048, critical CP", Some(&k.people.epki_rsa), Plain("lee", PASSWORD), Accepted),
        case("no certificate", None, Plain("kim", PASSWORD), Refused("no_certificate", &["certificate"])),
        case("unknown critical extension", Some(&k.unknown_critical), Plain("kim", PASSWORD), Refused("unsupported_certificate", &["critical extension"])),
        case("SHA-1 signature", Some(&k.sha1), Plain("kim", PASSWORD), Refused("unsupported_certificate", &["sha-1"])),
        case("NPKI chain", Some(&k.npki), Plain("hong", PASSWORD), Refused("npki_certificate", &["bank/npki"])),
        case("unknown issuer", Some(&k.foreign), Plain("kim", PASSWORD), Refused("unknown_issuer", &["issuer", "not a gpki or epki"])),
        case("right issuer name, wrong key", Some(&k.impostor), Plain("kim", PASSWORD), Refused("bad_signature", &["signature"])),
        case("expired", Some(&k.expired), Plain("kim", PASSWORD), Refused("certificate_expired", &["expired"])),
        case("not yet valid", Some(&k.not_yet_valid), Plain("kim", PASSWORD), Refused("certificate_not_yet_valid", &["valid only from", "clock"])),
        case("server policy", Some(&k.server_policy), Plain("kim", PASSWORD), Refused("policy_not_allowed", &["server", "personal"])),
        case("institution policy", Some(&k.institution_policy), Plain("kim", PASSWORD), Refused("policy_not_allowed", &["institution", "personal"])),
        case("revoked", Some(&k.revoked), Plain("kim", PASSWORD), Refused("certificate_revoked", &["revoked"])),
        case("revocation unknown (no CRL for its CDP)", Some(&k.revocation_unknown), Plain("kim", PASSWORD), Refused("revocation_unknown", &["revocation list"])),
        case("not bound", Some(&k.not_bound), Plain("kim", PASSWORD), Refused("certificate_not_bound", &["not registered"])),
        case("bound to another account", Some(&k.people.gpki_ecdsa), Plain("park", PASSWORD), Refused("bound_to_other_account", &["another account"])),
        case("name mismatch", Some(&k.name_mismatch), Plain("yoon", PASSWORD), Refused("name_mismatch", &["differs", "안중근", "윤봉길"])),
        case("account pending", Some(&k.pending), Plain("jang", PASSWORD), Refused("account_pending", &["approval"])),
        case("account disabled", Some(&k.disabled), Plain("yu", PASSWORD), Refused("account_disabled", &["disabled"])),
        case("bad password", Some(&k.people.gpki_ecdsa), Plain("kim", "Wrong-Pass-1"), Refused("bad_password", &["password"])),
        case("EXTERNAL, expired", Some(&k.expired), External(None), Refused("certificate_expired", &["expired"])),
        case("EXTERNAL, NPKI", Some(&k.npki), External(None), Refused("npki_certificate", &["bank/npki"])),
        case("EXTERNAL naming another account", Some(&k.people.gpki_ecdsa), External(Some("park")), Refused("bound_to_other_account", &["another account"])),
        case("EXTERNAL without password (required by policy)", Some(&k.people.gpki_ecdsa), External(Some("kim@test.go.kr")), Refused("bad_password", &["password"])),
        case("EXTERNAL, no certificate", None, External(None), Refused("no_certificate", &["certificate"])),
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

/// DESIGN.md's IMAP response code for a machine code.
fn imap_code_of(code: &str) -> &'static str {
    match code {
        "certificate_expired" | "certificate_not_yet_valid" => "EXPIRED",
        "password_expired" | "temporary_password_expired" => "EXPIRED",
        "revocation_unknown" | "too_many_failures" => "UNAVAILABLE",
        "account_pending" | "account_disabled" | "account_locked" => "CONTACTADMIN",
        _ => "AUTHENTICATIONFAILED",
    }
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

/// Signs in over `proto` with `version`, presenting `cert` (ring key); the server's answer.
async fn sign_in(
    fx: &Installation,
    daemon: &DaemonProcess,
    proto: Proto,
    version: &'static SupportedProtocolVersion,
    cert: Option<&UserCert>,
    auth: Auth<'_>,
) -> anyhow::Result<String> {
    let client = cert.map(ClientCert::of_user).transpose()?;
    let addr = daemon.addr(proto.listener());
    signin_client::sign_in(&fx.server_ca, addr, proto, version, client, auth).await
}

/// What is wrong with `reply` for `expect`, if anything.
fn judge(proto: Proto, reply: &str, expect: Expect) -> Option<String> {
    let (want, words) = match (proto.is_imap(), expect) {
        (false, Expect::Accepted) => ("235 ".to_string(), &[][..]),
        (true, Expect::Accepted) => ("a1 OK ".to_string(), &[][..]),
        (false, Expect::Refused(code, words)) => (format!("{} ", smtp_reply_of(code)), words),
        (true, Expect::Refused(code, words)) => (format!("a1 NO [{}] ", imap_code_of(code)), words),
    };
    if !reply.starts_with(&want) {
        return Some(format!("expected {want:?} ({expect:?}), got {reply:?}"));
    }
    // IMAP response text is 7-bit (RFC 3501 §9 TEXT-CHAR), so Korean words are required
    // of the SMTP reply only; the IMAP text must still carry the ASCII ones.
    let lower = reply.to_lowercase();
    let missing: Vec<_> = words
        .iter()
        .filter(|w| !proto.is_imap() || w.is_ascii())
        .filter(|w| !lower.contains(&w.to_lowercase()))
        .collect();
    (!missing.is_empty()).then(|| format!("reply {reply:?} lacks {missing:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_certificate_kind_gets_its_exact_reply_over_tls12_and_tls13() -> anyhow::Result<()> {
    let fx = installation().await?;
    let daemon = start(&fx)?;
    let cases = matrix();
    let mut failures = Vec::new();
    for proto in PROTOS {
        for version in VERSIONS {
            for c in &cases {
                let at = format!("{proto:?} {:?} {}", version.version, c.label);
                match sign_in(&fx, &daemon, proto, version, c.cert, c.auth).await {
                    Ok(reply) => failures
                        .extend(judge(proto, &reply, c.expect).map(|why| format!("{at}: {why}"))),
                    Err(e) => failures.push(format!("{at}: {e:#}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix failures:\n{}",
        failures.join("\n")
    );

    // Each decision is in the audit log exactly once per attempt, under its protocol and
    // machine code; accepted sign-ins with their account.
    let events = stop_and_read_audit(&fx, daemon).await?;
    let mut want: BTreeMap<(String, String), usize> = BTreeMap::new();
    for proto in PROTOS {
        for c in &cases {
            let code = match c.expect {
                Expect::Accepted => "(accepted)",
                Expect::Refused(code, _) => code,
            };
            *want
                .entry((proto.audit_name().into(), code.into()))
                .or_default() += VERSIONS.len();
        }
    }
    let mut got: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &events {
        let code = match e.kind.as_str() {
            "sign_in_ok" => {
                assert!(e.account.is_some(), "{e:?}");
                "(accepted)"
            }
            "sign_in_refused" => e
                .fields
                .get("reason")
                .map(String::as_str)
                .unwrap_or("(none)"),
            _ => continue,
        };
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{e:?}");
        let protocol = e.fields.get("protocol").cloned().unwrap_or_default();
        *got.entry((protocol, code.into())).or_default() += 1;
    }
    assert_eq!(got, want, "audit events per (protocol, reason)");
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
            Proto::Smtp,
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

/// The first line the server sends over TLS (its greeting, or its answer to EHLO / NOOP
/// after STARTTLS); `None` when the handshake or the connection failed. In TLS 1.3 the
/// client finishes before the server has checked its CertificateVerify, so a refused
/// certificate may show only on the first read.
async fn first_line_after_handshake(
    daemon: &DaemonProcess,
    proto: Proto,
    config: Arc<rustls::ClientConfig>,
) -> Option<String> {
    let addr = daemon.addr(proto.listener());
    let stream = match proto {
        Proto::Smtp | Proto::Imap => tls::connect(addr, config).await.ok()?,
        _ => signin_client::starttls(addr, proto, config).await.ok()?,
    };
    let mut c = LineClient::new(stream);
    match proto {
        Proto::SmtpStartTls => c.send_raw(b"EHLO client.test.go.kr\r\n").await.ok()?,
        Proto::ImapStartTls => c.send_raw(b"a0 NOOP\r\n").await.ok()?,
        Proto::Smtp | Proto::Imap => {}
    }
    c.line().await.ok().filter(|l| !l.is_empty())
}

/// KCDSA-like and RSA-1024 keys: the server cannot check proof of possession, so the
/// handshake fails on every user listener (a TLS alert carries no text) and the audit log says why:
/// one `tls_handshake_failed` event per attempt with the listener and the TLS error.
#[tokio::test(flavor = "multi_thread")]
async fn kcdsa_and_rsa_1024_fail_the_handshake_and_the_audit_log_says_why() -> anyhow::Result<()> {
    let k = kinds();
    let fx = installation().await?;
    let daemon = start(&fx)?;
    let clients: [(&str, &UserCert, Arc<dyn SigningKey>); 2] = [
        ("KCDSA-like", &k.kcdsa, ring_key(&k.kcdsa)?),
        ("RSA-1024", &k.rsa1024, openssl_rsa_key(&k.rsa1024_key)?),
    ];
    for proto in PROTOS {
        for version in VERSIONS {
            for (label, cert, key) in &clients {
                let client = Some(ClientCert::new(&cert.cert_der, Arc::clone(key)));
                let config = client_config(&fx.server_ca, client, &[version])?;
                let answer = first_line_after_handshake(&daemon, proto, config).await;
                let at = format!("{proto:?} {:?} {label}", version.version);
                assert_eq!(answer, None, "{at}: the handshake must fail");
            }
        }
    }
    // The daemon still serves a good client afterwards.
    for proto in PROTOS {
        let tls13 = &rustls::version::TLS13;
        let auth = Auth::Plain("kim", PASSWORD);
        let reply = sign_in(&fx, &daemon, proto, tls13, Some(&k.people.gpki_ecdsa), auth).await?;
        assert_eq!(judge(proto, &reply, Expect::Accepted), None);
    }

    let events = stop_and_read_audit(&fx, daemon).await?;
    let mut per_listener: BTreeMap<String, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == "tls_handshake_failed") {
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert_eq!(e.account, None, "{e:?}");
        let error = e.fields.get("error").map(|s| s.to_lowercase());
        let error = error.unwrap_or_default();
        assert!(
            error.contains("signature") || error.contains("certificate"),
            "the error names the failed proof of possession: {e:?}"
        );
        let listener = e.fields.get("listener").cloned().unwrap_or_default();
        *per_listener.entry(listener).or_default() += 1;
    }
    let each = clients.len() * VERSIONS.len();
    let want: BTreeMap<String, usize> = PROTOS
        .iter()
        .map(|p| (p.listener().to_string(), each))
        .collect();
    assert_eq!(
        per_listener, want,
        "tls_handshake_failed events per listener"
    );
    Ok(())
}
