//! `postgres_url` and `postgres_pool_size`: how to reach the database.
//!
//! The URL is libpq's (`postgresql://user@host:port/db?param=value`), read by
//! tokio-postgres, except for the TLS parameters, which are ours:
//! - `sslmode=verify-full`: TLS, the chain checked against `sslrootcert` and the host
//!   name against the certificate. The only TLS mode offered over TCP.
//! - `sslmode=disable`: no TLS (a trusted network, or a Unix socket).
//! - `require`, `prefer`, `allow` and `verify-ca` are refused: they would let a
//!   man in the middle read the mail store.
//! - `sslrootcert=PATH`: PEM file of the CA certificates to trust; required with
//!   `verify-full`.
//!
//! Over a Unix socket (`host=/run/postgresql`) no TLS is used: the server offers none there.

use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode};

use crate::error::OpenError;
use crate::tls::VerifyingTls;

/// Default `postgres_pool_size`: enough for the IMAP and SMTP sessions' short transactions
/// on one node without overloading a PostgreSQL server shared by several nodes
/// (max_connections defaults to 100).
pub const DEFAULT_POOL_SIZE: usize = 16;

/// Where the store lives and how many connections one node keeps.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres_url`, see the module docs.
    pub url: String,
    /// `postgres_pool_size`: most connections open at once; default [`DEFAULT_POOL_SIZE`].
    pub pool_size: usize,
    /// `[cluster] node_name`: signs this node's change notices and session leases, and
    /// its audit events. Empty for a store opened outside any node (tests, `store copy`).
    pub node_name: String,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PgConfig")
            .field("url", &redact_password(&self.url))
            .field("pool_size", &self.pool_size)
            .field("node_name", &self.node_name)
            .finish()
    }
}

impl PgConfig {
    /// A configuration with the default pool size.
    pub fn new(url: &str) -> PgConfig {
        PgConfig {
            url: url.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            node_name: String::new(),
        }
    }
}

/// The URL with any password replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

/// A parsed URL: tokio-postgres's configuration and the TLS connector to use with it.
pub(crate) struct Connection {
    pub(crate) pg: tokio_postgres::Config,
    pub(crate) tls: Option<VerifyingTls>,
}

/// Parses `postgres_url`, taking out the TLS parameters tokio-postgres does not know.
pub(crate) fn parse(url: &str) -> Result<Connection, OpenError> {
    let bad = |reason: &str| OpenError::Url(reason.to_owned());
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad("must be a postgresql:// URL"));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut sslmode = None;
    let mut rootcert = None;
    let mut rest = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        match param.split_once('=') {
            Some(("sslmode", v)) => sslmode = Some(v.to_owned()),
            Some(("sslrootcert", v)) => rootcert = Some(v.to_owned()),
            _ => rest.push(param),
        }
    }
    let plain = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut pg = tokio_postgres::Config::from_str(&plain).map_err(|e| bad(&e.to_string()))?;
    let over_tcp = pg.get_hosts().iter().any(|h| matches!(h, Host::Tcp(_)));
    let tls = match (sslmode.as_deref(), over_tcp) {
        (Some("disable"), _) | (None, false) => {
            pg.ssl_mode(SslMode::Disable);
            None
        }
        (Some("verify-full"), true) => {
            let path = rootcert.ok_or_else(|| bad("sslmode=verify-full needs sslrootcert=PATH"))?;
            pg.ssl_mode(SslMode::Require);
            Some(verifying(&path)?)
        }
        (Some("verify-full"), false) => {
            return Err(bad(
                "sslmode=verify-full over a Unix socket: the server offers no TLS there; \
                 use sslmode=disable",
            ));
        }
        (None, true) => {
            return Err(bad(
                "over TCP, say sslmode=verify-full (with sslrootcert) or, on a trusted \
                 network only, sslmode=disable",
            ));
        }
        (Some(other), _) => {
            return Err(OpenError::Url(format!(
                "sslmode={other} does not verify the server; use verify-full (or disable)"
            )));
        }
    };
    Ok(Connection { pg, tls })
}

/// A connector trusting the CA certificates in the PEM file at `path`.
fn verifying(path: &str) -> Result<VerifyingTls, OpenError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let fail = |reason: String| OpenError::RootCert {
        path: path.to_owned(),
        reason,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("no certificate in the file".into()));
    }
    VerifyingTls::new(roots).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        match parse(url) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{url} accepted"),
        }
    }

    #[test]
    fn only_verified_tls_or_none() {
        assert!(refused("postgresql://db.example/certmail").contains("verify-full"));
        for mode in ["require", "prefer", "allow", "verify-ca"] {
            let url = format!("postgresql://db.example/certmail?sslmode={mode}");
            assert!(refused(&url).contains("does not verify"), "{mode}");
        }
        assert!(
            refused("postgresql://db.example/certmail?sslmode=verify-full").contains("sslrootcert")
        );
        assert!(
            refused("postgresql://db.example/c?sslmode=verify-full&sslrootcert=/nonexistent")
                .contains("/nonexistent")
        );
        let plain = parse("postgresql://u@127.0.0.1:5433/c?sslmode=disable&connect_timeout=5")
            .expect("plain TCP when asked for");
        assert!(plain.tls.is_none());
        assert_eq!(plain.pg.get_connect_timeout().map(|d| d.as_secs()), Some(5));
        let unix = parse("postgresql://u@%2Frun%2Fpostgresql/c").expect("Unix socket");
        assert!(unix.tls.is_none());
        assert!(refused("mysql://x/y").contains("postgresql://"));
    }

    #[test]
    fn debug_hides_the_password() {
        let c = PgConfig::new("postgresql://certmail:s3cret@db.example:5432/certmail");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("certmail:***@db.example:5432/certmail"),
            "{shown}"
        );
    }
}
