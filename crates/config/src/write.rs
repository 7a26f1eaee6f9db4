//! Writing configuration files: the one-machine configuration `certmail dev`, the test kit
//! and the benchmark start from, and [`Config::to_toml`], which writes only the keys that
//! differ from their defaults, so a file reads like one written by hand and a test can
//! still add a key under a section header or append a section of its own.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{Config, CrlFetchSection, MailAuthSection, RelaySection};

/// The files a one-machine configuration names.
#[derive(Debug, Clone)]
pub struct LocalFiles {
    /// `[server] data_dir`.
    pub data_dir: PathBuf,
    /// `[tls] cert`: the server certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// `[tls] key`: the server key (PEM).
    pub tls_key: PathBuf,
    /// `[pki] certs_dir`.
    pub certs_dir: PathBuf,
    /// `[pki] crl_dir`.
    pub crl_dir: PathBuf,
}

/// The sections in file order, as named in TOML.
const SECTIONS: [&str; 16] = [
    "server",
    "tls",
    "pki",
    "limits",
    "imap",
    "smtp",
    "auth",
    "http",
    "crl_fetch",
    "mailauth",
    "relay",
    "spam",
    "web",
    "store",
    "cluster",
    "sieve",
];

impl Config {
    /// A configuration for one machine: `files`, every user listener on 127.0.0.1 at
    /// `ports` (IMAP TLS, IMAP STARTTLS, submission TLS, submission, MX; 0 lets the OS
    /// choose), and no SPF/DKIM/DMARC checks on port 25, since such a machine may have no
    /// DNS. Everything else is the default.
    pub fn local(files: LocalFiles, ports: [u16; 5]) -> Config {
        let at = |port: u16| vec![SocketAddr::from(([127, 0, 0, 1], port))];
        let mut config =
            Config::defaults(certmail_pki::PkiConfig::new(files.certs_dir, files.crl_dir));
        config.server.data_dir = files.data_dir;
        config.tls.cert = files.tls_cert;
        config.tls.key = files.tls_key;
        config.imap.listen_tls = at(ports[0]);
        config.imap.listen_starttls = at(ports[1]);
        config.smtp.listen_submissions = at(ports[2]);
        config.smtp.listen_submission = at(ports[3]);
        config.smtp.listen_mx = at(ports[4]);
        config.mailauth.check_inbound = false;
        config
    }

    /// Every section at its default, with `pki` (the one section without defaults).
    pub fn defaults(pki: certmail_pki::PkiConfig) -> Config {
        Config {
            server: Default::default(),
            tls: Default::default(),
            pki,
            limits: Default::default(),
            imap: Default::default(),
            smtp: Default::default(),
            auth: Default::default(),
            http: Default::default(),
            crl_fetch: CrlFetchSection::default(),
            mailauth: MailAuthSection::default(),
            relay: RelaySection::default(),
            spam: Default::default(),
            web: Default::default(),
            store: Default::default(),
            cluster: Default::default(),
            sieve: Default::default(),
        }
    }

    /// The configuration as a TOML file: each section that sets something, in the order
    /// of [`Config`]'s fields, with only the keys whose value is not the default (`[pki]`
    /// always names its two directories).
    pub fn to_toml(&self) -> String {
        SECTIONS
            .iter()
            .filter_map(|name| self.section_toml(name))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// One section of [`Config::to_toml`] (header and keys), or `None` when every key of
    /// `name` has its default.
    pub fn section_toml(&self, name: &str) -> Option<String> {
        let ours = as_table(self);
        let defaults = as_table(&Config::defaults(certmail_pki::PkiConfig::new(
            PathBuf::new(),
            PathBuf::new(),
        )));
        let mut keys = match ours.get(name) {
            Some(toml::Value::Table(t)) => t.clone(),
            _ => return None,
        };
        if let Some(toml::Value::Table(default)) = defaults.get(name) {
            keys.retain(|key, value| default.get(key) != Some(value));
        }
        if keys.is_empty() {
            return None;
        }
        let mut one = toml::Table::new();
        one.insert(name.to_owned(), toml::Value::Table(keys));
        Some(toml::to_string(&one).expect("a configuration always serialises to TOML"))
    }
}

fn as_table(config: &Config) -> toml::Table {
    toml::Table::try_from(config).expect("a configuration always serialises to a TOML table")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> LocalFiles {
        LocalFiles {
            data_dir: "/srv/mail data/data".into(),
            tls_cert: "/srv/tls/chain.pem".into(),
            tls_key: "/srv/tls/key.pem".into(),
            certs_dir: "/srv/pki/certs".into(),
            crl_dir: "/srv/pki/crl".into(),
        }
    }

    #[test]
    fn a_local_configuration_round_trips() {
        let mut config = Config::local(files(), [0, 0, 1465, 0, 25]);
        config.limits.max_connections = 7;
        config
            .auth
            .networks
            .insert("행정안전부".into(), vec!["10.0.0.0/8".into()]);
        let text = config.to_toml();
        let back: Config = toml::from_str(&text).expect("the written file reads back");
        assert_eq!(as_table(&back), as_table(&config));
        assert!(text.contains("[smtp]\n"), "{text}");
        assert!(text.contains("\"127.0.0.1:1465\""), "{text}");
        assert!(
            !text.contains("[relay]"),
            "a default section is left out: {text}"
        );
        assert!(
            !text.contains("shutdown_grace_secs"),
            "defaults are left out: {text}"
        );
    }

    #[test]
    fn the_mailauth_section_is_one_piece_of_the_file() {
        let config = Config::local(files(), [0; 5]);
        let mailauth = config
            .section_toml("mailauth")
            .expect("check_inbound is off");
        assert_eq!(mailauth, "[mailauth]\ncheck_inbound = false\n");
        assert!(config.to_toml().contains(&mailauth));
    }
}
