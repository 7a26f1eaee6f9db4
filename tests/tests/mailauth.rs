//! Mail from other servers on port 25, checked against SPF, DKIM and DMARC records served
//! by a local test DNS server: a DKIM-signed message (sent with swaks) lands in INBOX with
//! an Authentication-Results header; a DMARC p=reject failure is refused with 550 5.7.1; a
//! p=quarantine failure lands in a new \Junk mailbox; mail claiming our own domain from a
//! server SPF does not name is refused.

use std::process::Command;

use base64::Engine as _;
use certmail_smtp::mailauth::testdns::TestDns;
use certmail_smtp::mailauth::{DkimKeyConfig, DkimSigner};
use certmail_tests::fixtures;
use certmail_tests::lines::LineClient;

/// An address no SPF record here names (TEST-NET-1; nothing is sent to it).
const STRANGER: &str = "192.0.2.7";

fn starts(reply: &str, code: &str) {
    assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: 김철수 <{from}>\r\nTo: 홍길동 <hong@test.go.kr>\r\nSubject: {subject}\r\n\
Date: Mon, 2 Nov 2026 09:00:00 +0900\r\nMessage-ID: <{subject}@example.kr>\r\n\
Authentication-Results: mail.test.go.kr; dmarc=pass (forged by the sender)\r\n\r\n\
내일 10시 회의입니다.\r\n"
    )
}

/// An Ed25519 DKIM key for partner.kr, published in `dns`.
fn partner_signer(dir: &std::path::Path, dns: &TestDns) -> anyhow::Result<DkimSigner> {
    let der = mail_auth_key()?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
    let key_file = dir.join("partner.pem");
    std::fs::write(&key_file, pem)?;
    let signer = DkimSigner::load(&[DkimKeyConfig {
        domain: "partner.kr".into(),
        selector: "s2026".into(),
        key_file,
    }])?;
    let record = signer
        .dns_record("partner.kr")
        .ok_or_else(|| anyhow::anyhow!("no record"))?;
    dns.txt("s2026._domainkey.partner.kr", record);
    Ok(signer)
}

/// A fresh Ed25519 PKCS#8 key from the openssl CLI.
fn mail_auth_key() -> anyhow::Result<Vec<u8>> {
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ED25519", "-outform", "DER"])
        .output()?;
    anyhow::ensure!(out.status.success(), "openssl genpkey failed");
    Ok(out.stdout)
}

/// Sends one message on the MX listener as `mail_from`; returns the reply to the data.
async fn send_mx(
    addr: std::net::SocketAddr,
    mail_from: &str,
    body: &str,
) -> anyhow::Result<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut c = LineClient::new(tcp);
    starts(&c.smtp_reply().await?, "220 ");
    starts(&c.smtp("EHLO mx.partner.kr").await?, "250");
    starts(&c.smtp(&format!("MAIL FROM:<{mail_from}>")).await?, "250 ");
    starts(&c.smtp("RCPT TO:<hong@test.go.kr>").await?, "250 ");
    starts(&c.smtp("DATA").await?, "354 ");
    let reply = c.smtp(&format!("{body}.")).await?;
    starts(&c.smtp("QUIT").await?, "221 ");
    Ok(reply)
}

fn header_of(body: &[u8], name: &str) -> Vec<String> {
    let parsed = mail_parser::MessageParser::default()
        .parse(body)
        .expect("a stored message parses");
    parsed
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .filter_map(|h| {
            let off = h.offset_field() as usize..h.offset_end() as usize;
            body.get(off)
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn port_25_mail_is_checked_against_spf_dkim_and_dmarc() -> anyhow::Result<()> {
    let dns = TestDns::start().await?;
    // partner.kr: signs with DKIM, SPF names another server, DMARC p=reject.
    dns.txt("partner.kr", &format!("v=spf1 ip4:{STRANGER} -all"));
    dns.txt("_dmarc.partner.kr", "v=DMARC1; p=reject");
    // strict.kr: no signature, SPF names another server, p=reject.
    dns.txt("strict.kr", &format!("v=spf1 ip4:{STRANGER} -all"));
    dns.txt("_dmarc.strict.kr", "v=DMARC1; p=reject");
    // careful.kr: the same with p=quarantine.
    dns.txt("careful.kr", &format!("v=spf1 ip4:{STRANGER} -all"));
    dns.txt("_dmarc.careful.kr", "v=DMARC1; p=quarantine");
    // Our own domain names only another relay.
    dns.txt("test.go.kr", &format!("v=spf1 ip4:{STRANGER} -all"));

    let fx = fixtures::Installation::new()?;
    fx.append_config(&format!(
        "[mailauth]\ncheck_inbound = true\ndns_servers = [\"{}\"]\ndns_timeout_secs = 2\n",
        dns.addr()
    ))?;
    fx.add_user("hong", "홍길동", "Gpki-Pass-2026!", &fx.user_cert)?;
    let signer = partner_signer(fx.dir.path(), &dns)?;
    let daemon = fx.start()?;
    let mx = daemon.addr("smtp");

    // A signed message from partner.kr, sent by swaks: DKIM aligns, DMARC passes.
    let body = message("kim@partner.kr", "signed");
    let mut signed = signer
        .sign("partner.kr", body.as_bytes())
        .ok_or_else(|| anyhow::anyhow!("signing failed"))?;
    signed.extend_from_slice(body.as_bytes());
    let data_file = fx.dir.path().join("signed.eml");
    std::fs::write(&data_file, &signed)?;
    let port = mx.port().to_string();
    // swaks blocks; the test DNS server must keep answering the daemon meanwhile.
    let out = tokio::task::spawn_blocking(move || {
        Command::new("swaks")
            .args(["--server", "127.0.0.1", "--port", &port])
            .args(["--helo", "mx.partner.kr", "--from", "kim@partner.kr"])
            .args(["--to", "hong@test.go.kr", "--timeout", "30", "--data"])
            .arg(&data_file)
            .output()
    })
    .await??;
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "swaks failed:\n{transcript}");
    assert!(transcript.contains("<-  250 2.0.0"), "{transcript}");

    // Unsigned from strict.kr through a server its SPF does not name: refused.
    let reply = send_mx(mx, "lee@strict.kr", &message("lee@strict.kr", "strict")).await?;
    starts(&reply, "550 5.7.1");
    assert!(reply.contains("DMARC p=reject"), "{reply}");

    // The same from careful.kr: accepted, to Junk.
    let reply = send_mx(
        mx,
        "park@careful.kr",
        &message("park@careful.kr", "careful"),
    )
    .await?;
    starts(&reply, "250 ");

    // Our own domain from a server our SPF does not name: refused.
    let reply = send_mx(mx, "hong@test.go.kr", &message("hong@test.go.kr", "forged")).await?;
    starts(&reply, "550 5.7.1");
    assert!(reply.contains("own domain test.go.kr"), "{reply}");
    drop(daemon);

    let inbox = fx.mailbox_bodies("hong", "INBOX").await?;
    assert_eq!(inbox.len(), 1, "only the signed message reaches INBOX");
    let results = header_of(&inbox[0], "Authentication-Results");
    assert_eq!(results.len(), 1, "the forged header is gone: {results:?}");
    let ours = &results[0];
    assert!(
        ours.starts_with("Authentication-Results: mail.test.go.kr;"),
        "{ours}"
    );
    assert!(
        ours.contains("dkim=pass header.d=partner.kr header.s=s2026"),
        "{ours}"
    );
    assert!(ours.contains("spf=fail"), "{ours}");
    assert!(ours.contains("dmarc=pass header.from=partner.kr"), "{ours}");

    let store = fx.open_store().await?;
    let junk = store
        .list_mailboxes("hong")
        .await?
        .into_iter()
        .find(|m| m.special_use == Some(certmail_store::SpecialUse::Junk))
        .ok_or_else(|| anyhow::anyhow!("no \\Junk mailbox was made"))?;
    let metas = store.messages("hong", &junk.name, 1..=u32::MAX).await?;
    assert_eq!(metas.len(), 1);
    let quarantined = store.message_body("hong", &metas[0].blob).await?;
    let results = header_of(&quarantined, "Authentication-Results");
    assert!(
        results[0].contains("dmarc=fail") && results[0].contains("policy.dmarc=quarantine"),
        "{results:?}"
    );
    assert!(String::from_utf8_lossy(&quarantined).contains("Subject: careful"));
    Ok(())
}
