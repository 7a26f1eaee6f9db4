//! SPF, DKIM and DMARC against a real resolver pointed at a local test DNS server.

use std::net::IpAddr;
use std::time::Duration;

use super::testdns::TestDns;
use super::*;

const HOST: &str = "mail.test.go.kr";
const LOOPBACK: &str = "127.0.0.1";
/// An address no SPF record here names (TEST-NET-1; nothing is sent to it).
const STRANGER: &str = "192.0.2.7";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

fn verifier(dns: &TestDns) -> DnsVerifier {
    let mut overrides = std::collections::BTreeMap::new();
    overrides.insert("lenient.kr".to_string(), DmarcOverride::None);
    DnsVerifier::new(VerifierSettings {
        hostname: HOST.into(),
        local_domains: vec!["test.go.kr".into()],
        dns_servers: vec![dns.addr()],
        dns_timeout_secs: 2,
        dmarc_policy_override: overrides,
    })
    .expect("a resolver on explicit servers")
}

fn message(from: &str) -> Vec<u8> {
    format!(
        "From: 김철수 <{from}>\r\nTo: 홍길동 <hong@test.go.kr>\r\nSubject: 회의 안내\r\n\
Date: Mon, 2 Nov 2026 09:00:00 +0900\r\nMessage-ID: <a1@partner.kr>\r\n\r\n\
내일 10시 회의입니다.\r\n"
    )
    .into_bytes()
}

async fn check(v: &DnsVerifier, client: &str, mail_from: &str, body: &[u8]) -> Verdict {
    let m = InboundMessage {
        client_ip: ip(client),
        helo: "mx.partner.kr",
        mail_from,
        message: body,
    };
    tokio::time::timeout(Duration::from_secs(20), v.verify(m))
        .await
        .expect("verification finishes")
}

fn ed25519_pem(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("ed25519.pem");
    std::fs::write(&path, generate_ed25519_pem().expect("ring makes a key"))
        .expect("temp dir is writable");
    path
}

fn rsa_pem(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("rsa.pem");
    let pem = super::generate_rsa_pem().expect("the openssl CLI makes a key");
    std::fs::write(&path, pem).expect("temp dir is writable");
    path
}

fn signer(domain: &str, selector: &str, key_file: std::path::PathBuf) -> DkimSigner {
    DkimSigner::load(&[DkimKeyConfig {
        domain: domain.into(),
        selector: selector.into(),
        key_file,
    }])
    .expect("the key loads")
}

/// Signs `body` for partner.kr and publishes the key as the DNS would.
fn signed(dns: &TestDns, key: DkimSigner, body: &[u8]) -> Vec<u8> {
    dns.txt(
        "s2026._domainkey.partner.kr",
        key.dns_record("partner.kr").expect("a key for partner.kr"),
    );
    let mut out = key.sign("partner.kr", body).expect("signing works");
    out.extend_from_slice(body);
    out
}

fn spf_field(header: &str) -> Vec<&str> {
    header
        .split(';')
        .map(str::trim)
        .filter_map(|p| p.strip_prefix("spf="))
        .map(|p| p.split_whitespace().next().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn spf_pass_fail_and_softfail_are_recorded_for_helo_and_mail_from() {
    let dns = TestDns::start().await.expect("udp socket");
    dns.txt("partner.kr", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("soft.kr", "v=spf1 ip4:127.0.0.1 ~all");
    dns.txt("mx.partner.kr", "v=spf1 ip4:127.0.0.1 -all");
    let v = verifier(&dns);

    let pass = check(&v, LOOPBACK, "kim@partner.kr", &message("kim@partner.kr")).await;
    assert_eq!(spf_field(&pass.header), ["pass", "pass"], "{}", pass.header);
    assert!(
        pass.header
            .starts_with("Authentication-Results: mail.test.go.kr;")
    );
    assert!(
        pass.header.contains("smtp.mailfrom=kim@partner.kr"),
        "{}",
        pass.header
    );

    let fail = check(&v, STRANGER, "kim@partner.kr", &message("kim@partner.kr")).await;
    assert_eq!(spf_field(&fail.header), ["fail", "fail"], "{}", fail.header);

    let soft = check(&v, STRANGER, "lee@soft.kr", &message("lee@soft.kr")).await;
    assert_eq!(
        spf_field(&soft.header),
        ["fail", "softfail"],
        "{}",
        soft.header
    );
    // No DMARC record anywhere: SPF results alone never refuse mail.
    for verdict in [pass, fail, soft] {
        assert_eq!(verdict.disposition, Disposition::Deliver);
    }
}

#[tokio::test]
async fn messages_signed_by_our_signer_verify_against_the_published_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    for key_file in [ed25519_pem(dir.path()), rsa_pem(dir.path())] {
        let dns = TestDns::start().await.expect("udp socket");
        dns.txt("_dmarc.partner.kr", "v=DMARC1; p=reject");
        let key = signer("partner.kr", "s2026", key_file);
        let record = key.dns_record("partner.kr").expect("a record").to_string();
        let body = signed(&dns, key, &message("kim@partner.kr"));
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("DKIM-Signature: v=1; a="), "{text}");
        assert!(text.contains("c=relaxed/relaxed"), "{text}");
        assert!(
            text.contains("d=partner.kr") && text.contains("s=s2026"),
            "{text}"
        );

        let v = verifier(&dns);
        // Sent from an address SPF does not allow: only the signature can pass DMARC.
        let verdict = check(&v, STRANGER, "kim@partner.kr", &body).await;
        assert!(
            verdict.header.contains("dkim=pass header.d=partner.kr"),
            "{record}: {}",
            verdict.header
        );
        assert!(verdict.header.contains("dmarc=pass"), "{}", verdict.header);
        assert_eq!(verdict.disposition, Disposition::Deliver);

        // Changing the body after signing breaks the signature, and DMARC with it.
        let mut tampered = body.clone();
        tampered.truncate(tampered.len() - 2);
        tampered.extend_from_slice("11시로 변경\r\n".as_bytes());
        let verdict = check(&v, STRANGER, "kim@partner.kr", &tampered).await;
        // mail-auth reports a body hash mismatch as `neutral` (RFC 6376 §6.3 leaves it open).
        assert!(
            verdict
                .header
                .contains("dkim=neutral (body hash did not verify)"),
            "{}",
            verdict.header
        );
        assert!(verdict.header.contains("dmarc=fail"), "{}", verdict.header);
        assert!(matches!(verdict.disposition, Disposition::Reject(_)));
    }
}

#[tokio::test]
async fn dmarc_reject_is_refused_with_550_and_quarantine_goes_to_junk() {
    let dns = TestDns::start().await.expect("udp socket");
    for (domain, policy) in [
        ("strict.kr", "reject"),
        ("careful.kr", "quarantine"),
        ("lenient.kr", "reject"),
    ] {
        dns.txt(domain, "v=spf1 ip4:127.0.0.1 -all");
        dns.txt(
            &format!("_dmarc.{domain}"),
            &format!("v=DMARC1; p={policy}"),
        );
    }
    let v = verifier(&dns);

    let rejected = check(&v, STRANGER, "kim@strict.kr", &message("kim@strict.kr")).await;
    let Disposition::Reject(reply) = &rejected.disposition else {
        panic!("expected a refusal, got {rejected:?}");
    };
    assert_eq!((reply.code, reply.enhanced), (550, Some((5, 7, 1))));
    assert!(reply.lines[0].contains("strict.kr") && reply.lines[0].contains("p=reject"));

    let quarantined = check(&v, STRANGER, "kim@careful.kr", &message("kim@careful.kr")).await;
    assert_eq!(quarantined.disposition, Disposition::Junk);
    assert!(
        quarantined.header.contains("dmarc=fail"),
        "{}",
        quarantined.header
    );
    assert!(quarantined.header.contains("policy.dmarc=quarantine"));

    // The override in the configuration wins over the published p=reject.
    let overridden = check(&v, STRANGER, "kim@lenient.kr", &message("kim@lenient.kr")).await;
    assert_eq!(overridden.disposition, Disposition::Deliver);

    // From the allowed server, SPF passes aligned and DMARC passes.
    let passed = check(&v, LOOPBACK, "kim@strict.kr", &message("kim@strict.kr")).await;
    assert_eq!(passed.disposition, Disposition::Deliver);
    let stored = results::prepend(&passed.header, &message("kim@strict.kr"));
    let parsed = mail_parser::MessageParser::default()
        .parse(&stored)
        .expect("the stored message parses");
    let ar = parsed
        .header_raw("Authentication-Results")
        .expect("the header is there");
    assert!(ar.trim_start().starts_with("mail.test.go.kr;"), "{ar}");
    assert!(ar.contains("dmarc=pass header.from=strict.kr"), "{ar}");
    assert_eq!(parsed.subject(), Some("회의 안내"));
}

#[tokio::test]
async fn mail_claiming_our_own_domain_from_outside_is_refused_unless_spf_passes() {
    let dns = TestDns::start().await.expect("udp socket");
    dns.txt("test.go.kr", "v=spf1 ip4:127.0.0.1 -all");
    let v = verifier(&dns);

    let forged = check(&v, STRANGER, "hong@test.go.kr", &message("hong@test.go.kr")).await;
    let Disposition::Reject(reply) = &forged.disposition else {
        panic!("expected a refusal, got {forged:?}");
    };
    assert_eq!((reply.code, reply.enhanced), (550, Some((5, 7, 1))));
    assert!(
        reply.lines[0].contains("own domain test.go.kr"),
        "{reply:?}"
    );

    // A stranger's envelope with our domain only in From: is refused too.
    let header_only = check(
        &v,
        STRANGER,
        "spam@elsewhere.kr",
        &message("hong@test.go.kr"),
    )
    .await;
    assert!(matches!(header_only.disposition, Disposition::Reject(_)));

    // Our SPF names the relay: its mail for our domain is accepted.
    let relayed = check(&v, LOOPBACK, "hong@test.go.kr", &message("hong@test.go.kr")).await;
    assert_eq!(
        relayed.disposition,
        Disposition::Deliver,
        "{}",
        relayed.header
    );
}

#[tokio::test]
async fn a_dns_outage_delivers_with_temperror_but_defers_mail_for_our_own_domain() {
    // A name server that is not there: the port was free a moment ago.
    let dead = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        socket.local_addr().expect("bound")
    };
    let v = DnsVerifier::new(VerifierSettings {
        hostname: HOST.into(),
        local_domains: vec!["test.go.kr".into()],
        dns_servers: vec![dead],
        dns_timeout_secs: 1,
        dmarc_policy_override: Default::default(),
    })
    .expect("a resolver on explicit servers");

    let partner = check(&v, LOOPBACK, "kim@partner.kr", &message("kim@partner.kr")).await;
    assert_eq!(
        partner.disposition,
        Disposition::Deliver,
        "{}",
        partner.header
    );
    assert_eq!(
        spf_field(&partner.header),
        ["temperror", "temperror"],
        "{}",
        partner.header
    );

    let ours = check(&v, LOOPBACK, "hong@test.go.kr", &message("hong@test.go.kr")).await;
    let Disposition::Reject(reply) = &ours.disposition else {
        panic!("expected a deferral, got {ours:?}");
    };
    assert_eq!(
        (reply.code, reply.enhanced),
        (451, Some((4, 4, 3))),
        "{reply:?}"
    );
}

#[test]
fn signer_debug_output_names_domains_but_no_key_material() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = ed25519_pem(dir.path());
    let pem = std::fs::read_to_string(&path).expect("key file");
    let key = signer("partner.kr", "s2026", path);
    let debug = format!("{key:?}");
    assert!(debug.contains("partner.kr"), "{debug}");
    let secret = pem.lines().nth(1).expect("a base64 line");
    assert!(!debug.contains(&secret[..16]), "{debug}");
    assert!(
        key.sign("elsewhere.kr", b"From: a@elsewhere.kr\r\n\r\nx")
            .is_none()
    );
}
