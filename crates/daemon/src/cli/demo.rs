//! The demo account of `certmail dev`: created in the store with its certificate bound.

use anyhow::Context as _;

use crate::config::Config;

/// Creates account `id` for `name` with address `id@domain`, a random password (returned)
/// and the certificate in `cert_pem` bound to it. The daemon must not be running (the
/// store is opened directly).
pub fn create_demo_account(
    config: &Config,
    cert_pem: &std::path::Path,
    id: &str,
    name: &str,
    domain: &str,
) -> anyhow::Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = crate::context::open_store(config).await?;
        let password = certmail_auth::password::generate();
        let hash = certmail_auth::password::hash(&password)?;
        let now = certmail_auth::now();
        let account = certmail_store::Account {
            id: id.to_string(),
            name: name.to_string(),
            addresses: vec![format!("{id}@{domain}")],
            organisation: "교육부".to_string(),
            state: certmail_store::AccountState::Active,
            password_hash: Some(hash),
            password_set_at: Some(now),
            password_temporary: false,
            totp_secret: None,
            settings: Default::default(),
            created_at: now,
            failed_logins: 0,
            locked_until: None,
        };
        store
            .create_account(account)
            .await
            .context("creating the demo account")?;
        let der = certmail_auth::cert_der_from_file_bytes(&std::fs::read(cert_pem)?)?;
        let pki_config = config.pki.clone();
        let pki =
            tokio::task::spawn_blocking(move || certmail_pki::Pki::load(&pki_config)).await??;
        let binding = certmail_auth::binding_for(&pki, id, &der, now)
            .map_err(|r| anyhow::anyhow!("the generated demo certificate is refused: {r}"))?;
        store
            .bind_cert(binding)
            .await
            .context("binding the demo certificate")?;
        Ok(password)
    })
}
