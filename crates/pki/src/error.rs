//! The crate's one error type: problems of configuration, files and TLS setup.
//!
//! A certificate that is refused at sign-in is not an [`Error`]: it is a
//! [`Refusal`](crate::Refusal) with a reason a user can act on.

use std::path::PathBuf;

/// Why loading the PKI or building a TLS configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file in the certs directory is not a usable CA certificate.
    #[error("CA certificate {path}: {reason}")]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The certs directory holds no issuing CA certificate.
    #[error("no issuing CA certificate found in {0}")]
    NoIssuingCa(PathBuf),
    /// A CRL file could not be used (wrong issuer, bad signature, no mapping to a CDP URI...).
    #[error("CRL {path}: {reason}")]
    Crl {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The PKI configuration has invalid values; every problem is listed.
    #[error("invalid PKI configuration: {}", .0.join("; "))]
    Config(Vec<String>),
    /// A PEM file has no certificate or key, or cannot be decoded.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the TLS configuration (e.g. key and certificate do not match).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The test PKI generator failed (rcgen, the openssl CLI, PKCS#12 writing).
    #[cfg(feature = "testpki")]
    #[error("test PKI: {0}")]
    TestPki(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
