//! Issue 18, "What held": 50 wrong passwords with the account's own certificate lock the
//! account at the fifth, as documented (`[auth] lockout_threshold = 5`), and every later
//! attempt is refused quickly with a reason the user can act on; the daemon's memory does
//! not grow with them. Retries on the locked account check no password, so they do not
//! throttle the address: once an admin unlocks it, the person signs in at once from the
//! same (perhaps shared) address.

use std::time::{Duration, Instant};

use certmail_tests::fixtures;
use certmail_tests::procfs::{ensure_rss_within, rss_kib};
use certmail_tests::signin_client::{Auth, Proto, sign_in};
use certmail_tests::tls::ClientCert;

const PASSWORD: &str = "Gpki-Pass-2026!";

#[tokio::test(flavor = "multi_thread")]
async fn fifty_wrong_passwords_lock_at_the_fifth_and_stay_refused() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;
    let v13 = &rustls::version::TLS13;
    let cert = || ClientCert::from_pem_files(&fx.user_cert, &fx.user_key);
    let before = rss_kib(daemon.pid())?;

    let mut replies = Vec::new();
    for i in 0..50 {
        let proto = if i % 2 == 0 { Proto::Imap } else { Proto::Smtp };
        let addr = daemon.addr(proto.listener());
        let t = Instant::now();
        let auth = Auth::Plain("hong", "Wrong-Pass-1");
        let reply = sign_in(&fx.server_ca, addr, proto, v13, Some(cert()?), auth).await?;
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "attempt {i} took {:?}",
            t.elapsed()
        );
        replies.push(reply);
    }
    for (i, reply) in replies.iter().enumerate() {
        let refused = reply.starts_with("a1 NO") || reply.starts_with("535");
        assert!(refused, "attempt {i}: {reply}");
        // The first four say the password was wrong; from the fifth on, the lock.
        match i < 4 {
            true => assert!(!reply.contains("locked"), "attempt {i}: {reply}"),
            false => assert!(reply.contains("locked"), "attempt {i}: {reply}"),
        }
    }
    // The right password does not open a locked account, over either protocol.
    for proto in [Proto::Imap, Proto::Smtp] {
        let addr = daemon.addr(proto.listener());
        let auth = Auth::Plain("hong", PASSWORD);
        let reply = sign_in(&fx.server_ca, addr, proto, v13, Some(cert()?), auth).await?;
        assert!(reply.contains("locked"), "{proto:?}: {reply}");
    }
    ensure_rss_within(daemon.pid(), before, 32 * 1024)?;

    // An admin unlocks it and the right password signs in again, from the same address.
    let (code, out, err) = fx.certmail(&["account", "unlock", "hong"])?;
    assert_eq!(code, 0, "{out}{err}");
    let addr = daemon.addr(Proto::Imap.listener());
    let auth = Auth::Plain("hong", PASSWORD);
    let reply = sign_in(&fx.server_ca, addr, Proto::Imap, v13, Some(cert()?), auth).await?;
    assert!(reply.starts_with("a1 OK"), "{reply}");
    Ok(())
}
