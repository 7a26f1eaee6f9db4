//! Accounts: what is not a store behaviour (the checks of accounts, certificate bindings
//! and aliases every backend passes are in `certmail_store::conformance::accounts`).

mod common;

use common::hong;

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let mut a = hong();
    a.password_hash = Some("$argon2id$v=19$secret-hash".into());
    a.totp_secret = Some(b"JBSWY3DPEHPK3PXP".to_vec());
    let shown = format!("{a:?}");
    assert!(!shown.contains("secret-hash"), "{shown}");
    assert!(!shown.contains("74, 66, 83"), "{shown}"); // bytes of "JBS"
    assert!(shown.contains("<redacted>"));
    assert!(shown.contains("홍길동"));
}
