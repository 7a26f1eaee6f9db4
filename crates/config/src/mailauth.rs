//! `[mailauth]`: SPF, DKIM and DMARC checks of mail on port 25, and DKIM signing keys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use certmail_smtp::mailauth::{
    DkimKeyConfig, DkimSigner, DmarcOverride, DnsVerifier, InboundVerifier, VerifierSettings,
};

/// `[mailauth]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailAuthSection {
    /// Check SPF, DKIM and DMARC of mail other servers send to port 25, write an
    /// Authentication-Results header, and apply DMARC policies. On by default: an
    /// internet-facing MX must check them. It needs a working DNS resolver; a machine
    /// without DNS (an isolated test, `certmail dev`) turns it off.
    pub check_inbound: bool,
    /// Name servers to ask, as "address:port" (UDP, then TCP). Empty (the default): the
    /// system's, from /etc/resolv.conf.
    pub dns_servers: Vec<SocketAddr>,
    /// Seconds to wait for one DNS answer.
    pub dns_timeout_secs: u64,
    /// DMARC policies that replace the ones domains publish, per From: domain:
    /// "none" (record only), "quarantine" (to Junk) or "reject" (550 5.7.1).
    pub dmarc_policy_override: BTreeMap<String, DmarcPolicyName>,
    /// DKIM signing keys for outbound mail, per From: domain.
    pub dkim: BTreeMap<String, DkimKeySection>,
}

impl Default for MailAuthSection {
    fn default() -> Self {
        Self {
            // A serious MX checks what it receives; machines without DNS say so explicitly.
            check_inbound: true,
            dns_servers: Vec::new(),
            // hickory's default; a resolver slower than this is broken.
            dns_timeout_secs: 5,
            dmarc_policy_override: BTreeMap::new(),
            dkim: BTreeMap::new(),
        }
    }
}

/// A DMARC policy named in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicyName {
    /// Record the result only.
    None,
    /// Failing mail goes to Junk.
    Quarantine,
    /// Failing mail is refused.
    Reject,
}

/// One domain's DKIM key (`[mailauth.dkim."example.go.kr"]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimKeySection {
    /// The selector: the public key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// PEM private key: RSA (2048 bits or more, PKCS#8 or PKCS#1) or Ed25519 (PKCS#8).
    pub key_file: PathBuf,
}

impl MailAuthSection {
    /// The verifier for port 25, when `check_inbound` is on.
    pub fn verifier(
        &self,
        server: &super::ServerSection,
    ) -> Result<Option<Arc<dyn InboundVerifier>>, certmail_smtp::Error> {
        if !self.check_inbound {
            return Ok(None);
        }
        let settings = VerifierSettings {
            hostname: server.hostname.clone(),
            local_domains: server
                .local_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            dns_servers: self.dns_servers.clone(),
            dns_timeout_secs: self.dns_timeout_secs,
            dmarc_policy_override: self
                .dmarc_policy_override
                .iter()
                .map(|(d, p)| {
                    let p = match p {
                        DmarcPolicyName::None => DmarcOverride::None,
                        DmarcPolicyName::Quarantine => DmarcOverride::Quarantine,
                        DmarcPolicyName::Reject => DmarcOverride::Reject,
                    };
                    (d.to_ascii_lowercase(), p)
                })
                .collect(),
        };
        Ok(Some(Arc::new(DnsVerifier::new(settings)?)))
    }

    /// The outbound DKIM signer, when keys are configured.
    pub fn dkim_signer(&self) -> Result<Option<Arc<DkimSigner>>, certmail_smtp::Error> {
        if self.dkim.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(DkimSigner::load(&self.dkim_keys())?)))
    }

    fn dkim_keys(&self) -> Vec<DkimKeyConfig> {
        self.dkim
            .iter()
            .map(|(domain, k)| DkimKeyConfig {
                domain: domain.to_ascii_lowercase(),
                selector: k.selector.clone(),
                key_file: k.key_file.clone(),
            })
            .collect()
    }

    /// Checks what types cannot: timeouts, selectors, and that every key loads.
    pub fn validate(&self, bad: &mut impl FnMut(&str, String)) {
        if self.dns_timeout_secs == 0 {
            bad("[mailauth] dns_timeout_secs", "must be at least 1".into());
        }
        for domain in self.dmarc_policy_override.keys() {
            if !is_domain(domain) {
                bad(
                    "[mailauth] dmarc_policy_override",
                    format!("`{domain}` is not a domain name"),
                );
            }
        }
        for (domain, k) in &self.dkim {
            if !is_domain(domain) {
                bad(
                    "[mailauth] dkim",
                    format!("`{domain}` is not a domain name"),
                );
            }
            if k.selector.is_empty()
                || !k
                    .selector
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                bad(
                    "[mailauth] dkim",
                    format!(
                        "the selector `{}` of {domain} must be letters, digits, `-` or `.`",
                        k.selector
                    ),
                );
            }
        }
        if let Err(e) = DkimSigner::load(&self.dkim_keys()) {
            bad("[mailauth] dkim", e.to_string());
        }
    }
}

fn is_domain(d: &str) -> bool {
    !d.is_empty() && !d.contains('@') && !d.contains(char::is_whitespace) && !d.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::super::check;

    const PKI: &str = "[pki]\ncerts_dir = \"/nonexistent\"\ncrl_dir = \"/nonexistent\"\n";

    fn mailauth_problems(section: &str) -> Vec<(String, String)> {
        let problems = check(&format!("{PKI}[mailauth]\n{section}")).expect_err("bad keys");
        problems
            .into_iter()
            .filter(|p| p.key.starts_with("[mailauth]"))
            .map(|p| (p.key, p.message))
            .collect()
    }

    #[test]
    fn each_bad_mailauth_key_is_reported_by_name() {
        let p = mailauth_problems(
            "check_inbound = \"yes\"\ndns_servers = [\"127.0.0.1\"]\n\
             dmarc_policy_override = { \"partner.kr\" = \"bounce\" }\n",
        );
        let keys: Vec<_> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "[mailauth] check_inbound",
                "[mailauth] dmarc_policy_override",
                "[mailauth] dns_servers"
            ],
            "{p:?}"
        );
    }

    #[test]
    fn a_missing_dkim_key_file_names_the_domain() {
        let p = mailauth_problems(
            "dns_timeout_secs = 0\n[mailauth.dkim.\"test.go.kr\"]\nselector = \"s2026\"\n\
             key_file = \"/nonexistent/dkim.pem\"\n",
        );
        assert!(
            p.iter()
                .any(|(k, m)| k == "[mailauth] dkim" && m.contains("test.go.kr")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|(k, _)| k == "[mailauth] dns_timeout_secs"),
            "{p:?}"
        );
    }

    #[test]
    fn a_good_section_turns_the_verifier_on() {
        let config = check(&format!(
            "{PKI}[mailauth]\ncheck_inbound = true\ndns_servers = [\"127.0.0.1:53\"]\n\
             dmarc_policy_override = {{ \"partner.kr\" = \"none\" }}\n"
        ));
        // Only the PKI directories are missing on a test machine.
        let problems = config.expect_err("no PKI directories here");
        assert!(
            problems
                .iter()
                .all(|p| p.key.starts_with("[pki]") || p.key.starts_with("[tls]")),
            "{problems:?}"
        );
        let section: super::MailAuthSection =
            toml::from_str("check_inbound = true\ndns_servers = [\"127.0.0.1:53\"]\n")
                .expect("valid section");
        let server = super::super::ServerSection::default();
        assert!(section.verifier(&server).expect("a resolver").is_some());
    }
}
