//! `certmail dkim keygen`: makes a DKIM signing key and prints the DNS record to publish.

use std::path::PathBuf;

use crate::cli::args::DkimCommand;

use certmail_smtp::mailauth::{DkimKeyConfig, DkimSigner};

/// Runs a `certmail dkim` subcommand.
pub fn run(cmd: DkimCommand) -> anyhow::Result<()> {
    let DkimCommand::Keygen {
        domain,
        selector,
        algorithm,
        out,
    } = cmd;
    let domain = domain.to_ascii_lowercase();
    let path = out.unwrap_or_else(|| PathBuf::from(format!("{domain}.{selector}.pem")));
    anyhow::ensure!(
        !path.exists(),
        "{} exists; remove it or pass another --out",
        path.display()
    );
    let pem = match algorithm.as_str() {
        "rsa" => rsa_pem()?,
        "ed25519" => ed25519_pem()?,
        other => anyhow::bail!("unknown --algorithm {other}; use rsa or ed25519"),
    };
    crate::admin::write_private(&path, &pem)?;
    let signer = DkimSigner::load(&[DkimKeyConfig {
        domain: domain.clone(),
        selector: selector.clone(),
        key_file: path.clone(),
    }])?;
    let record = signer
        .dns_record(&domain)
        .ok_or_else(|| anyhow::anyhow!("the key just written did not load"))?;
    println!("wrote the DKIM key to {} (mode 0600)", path.display());
    println!();
    println!("Publish this TXT record:");
    println!("{selector}._domainkey.{domain}. IN TXT \"{record}\"");
    println!();
    println!("and add to the configuration:");
    println!("[mailauth.dkim.\"{domain}\"]");
    println!("selector = \"{selector}\"");
    let absolute = std::fs::canonicalize(&path).unwrap_or(path);
    println!("key_file = {:?}", absolute.display().to_string());
    Ok(())
}

fn rsa_pem() -> anyhow::Result<Vec<u8>> {
    match certmail_smtp::mailauth::generate_rsa_pem() {
        Ok(pem) => Ok(pem.into_bytes()),
        // No key file or domain yet: the reason alone says what to do.
        Err(certmail_smtp::Error::DkimKey { reason, .. }) => Err(anyhow::anyhow!(reason)),
        Err(e) => Err(e.into()),
    }
}

fn ed25519_pem() -> anyhow::Result<Vec<u8>> {
    Ok(certmail_smtp::mailauth::generate_ed25519_pem()?.into_bytes())
}
