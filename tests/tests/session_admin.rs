//! `certmail session list|kick` on a live daemon, and admin actions that end a session:
//! disabling the account, replacing its password.

use certmail_tests::lines::LineClient;
use certmail_tests::{DaemonProcess, fixtures, tls};

const PASSWORD: &str = "Gpki-Pass-2026!";

async fn imap_signed_in(
    daemon: &DaemonProcess,
    fx: &fixtures::Installation,
    password: &str,
) -> anyhow::Result<LineClient<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
    let cfg = fx.user_tls()?;
    let mut c = LineClient::new(tls::connect(daemon.addr("imaps"), cfg).await?);
    anyhow::ensure!(c.line().await?.starts_with("* OK"));
    c.send_raw(format!("a1 LOGIN hong \"{password}\"\r\n").as_bytes())
        .await?;
    let l = c.line().await?;
    anyhow::ensure!(l.starts_with("a1 OK"), "{l}");
    Ok(c)
}

#[tokio::test(flavor = "multi_thread")]
async fn list_kick_disable_and_password_change_end_sessions() -> anyhow::Result<()> {
    let fx = fixtures::Installation::with_demo_user(PASSWORD)?;
    let daemon = fx.start()?;

    let (code, out, _) = fx.certmail(&["session", "list"])?;
    assert_eq!(code, 0);
    assert!(out.contains("0 live sessions"), "{out}");

    let mut c = imap_signed_in(&daemon, &fx, PASSWORD).await?;
    let (code, out, _) = fx.certmail(&["session", "list", "--json"])?;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let s = &v["data"]["sessions"][0];
    assert_eq!(
        (
            s["account"].as_str(),
            s["ip"].as_str(),
            s["connections"].as_u64()
        ),
        (Some("hong"), Some("127.0.0.1"), Some(1))
    );
    assert_eq!(s["protocols"][0], "imap");

    let (code, out, _) = fx.certmail(&["session", "kick", "hong"])?;
    assert_eq!(code, 0, "{out}");
    let bye = c.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]") && bye.to_lowercase().contains("administrator"),
        "{bye}"
    );
    let (code, _, err) = fx.certmail(&["session", "kick", "hong"])?;
    assert_eq!(code, 1, "no session left to end");
    assert!(err.contains("no live session"), "{err}");

    // A password change ends the session; the old password no longer works.
    let mut c = imap_signed_in(&daemon, &fx, PASSWORD).await?;
    let (code, out, _) = fx.certmail(&["account", "passwd", "hong", "--json"])?;
    assert_eq!(code, 0);
    let temp = serde_json::from_str::<serde_json::Value>(&out)?["data"]["temporary_password"]
        .as_str()
        .expect("generated")
        .to_string();
    let bye = c.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]") && bye.to_lowercase().contains("password"),
        "{bye}"
    );
    assert!(
        imap_signed_in(&daemon, &fx, PASSWORD).await.is_err(),
        "the old password is refused"
    );

    // Disabling the account ends the session and refuses sign-in with CONTACTADMIN.
    let mut c = imap_signed_in(&daemon, &fx, &temp).await?;
    let (code, out, _) = fx.certmail(&["account", "disable", "hong"])?;
    assert_eq!(code, 0);
    assert!(out.contains("1 connection ended"), "{out}");
    let bye = c.line().await?;
    assert!(
        bye.starts_with("* BYE [UNAVAILABLE]") && bye.to_lowercase().contains("disabled"),
        "{bye}"
    );
    let Err(err) = imap_signed_in(&daemon, &fx, &temp).await else {
        panic!("a disabled account cannot sign in");
    };
    assert!(err.to_string().contains("NO [CONTACTADMIN]"), "{err}");
    Ok(())
}
