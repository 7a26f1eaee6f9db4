//! Issue 18: 200 sign-in attempts without a certificate from one address once throttled
//! that address for everyone behind it, certificate holders included; agencies sit
//! behind shared NAT addresses, so an outsider could lock out an office. Attempts refused
//! before any credential is checked now count in their own throttle
//! (`[auth] precredential_failure_limit`), which never refuses a valid certificate.

use certmail_tests::fixtures;
use certmail_tests::signin_client::{Auth, Proto, sign_in};
use certmail_tests::tls::ClientCert;

const PASSWORD: &str = "Gpki-Pass-2026!";

#[tokio::test(flavor = "multi_thread")]
async fn attempts_without_a_certificate_do_not_lock_out_certificate_holders() -> anyhow::Result<()>
{
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let v13 = &rustls::version::TLS13;

    // An outsider behind the office's address (127.0.0.1): 210 attempts, no certificate.
    let mut replies = Vec::new();
    for i in 0..210 {
        let proto = if i % 2 == 0 { Proto::Imap } else { Proto::Smtp };
        let addr = daemon.addr(proto.listener());
        let auth = Auth::Plain("hong", "guess");
        replies.push(sign_in(&fx.server_ca, addr, proto, v13, None, auth).await?);
    }
    // The first 100 (the default limit) hear why; the rest are refused at once, saying so.
    for (i, reply) in replies.iter().enumerate() {
        let refused =
            reply.starts_with("a1 NO") || reply.starts_with("530") || reply.starts_with("454");
        assert!(refused, "attempt {i} without a certificate: {reply}");
        let says = match i < 100 {
            true => "No certificate was presented",
            false => "Too many attempts without a valid certificate",
        };
        assert!(reply.contains(says), "attempt {i}: {reply}");
    }

    // 홍길동, from the same address, with his certificate and password: signed in at once.
    for proto in [Proto::Imap, Proto::Smtp] {
        let cert = ClientCert::from_pem_files(&fx.user_cert, &fx.user_key)?;
        let addr = daemon.addr(proto.listener());
        let reply = sign_in(
            &fx.server_ca,
            addr,
            proto,
            v13,
            Some(cert),
            Auth::Plain("hong", PASSWORD),
        )
        .await?;
        assert!(
            reply.starts_with("a1 OK") || reply.starts_with("235"),
            "{proto:?}: {reply}"
        );
    }
    Ok(())
}
