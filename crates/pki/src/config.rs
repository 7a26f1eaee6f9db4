//! [`PkiConfig`]: where the CA certificates and CRLs are, and which policies are accepted.
//!
//! Every list PKI.md describes is configuration, not code; the defaults are PKI.md's.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// GPKI civil-servant personal policy (공무원 전자서명).
pub const OID_GPKI_CIVIL_SERVANT: &str = "1.2.410.100001.2.2.1";
/// GPKI public-institution / private personal policy (공공/민간 개인용).
pub const OID_GPKI_PUBLIC_PERSONAL: &str = "1.2.410.100001.2.2.2";
/// EPKI personal policy (교육기관 개인용).
pub const OID_EPKI_PERSONAL: &str = "1.2.410.100001.5.3.1.3";
/// GPKI special-purpose policy (특수목적용), used by institution "대표" mailboxes.
pub const OID_GPKI_SPECIAL: &str = "1.2.410.100001.2.1.3";
/// EPKI special-purpose policy (특수목적용).
pub const OID_EPKI_SPECIAL: &str = "1.2.410.100001.5.3.1.5";

/// The PKI section of the daemon's configuration (`[pki]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiConfig {
    /// Directory of CA certificates (PEM or DER, one or more per file). Self-signed ones
    /// are roots, used only to validate the others; the rest are issuing CAs.
    pub certs_dir: PathBuf,
    /// Directory of CRL files (PEM or DER). A CRL with an IssuingDistributionPoint serves the
    /// URIs it names; one without serves only the URIs listed in its sidecar file
    /// `<crl file>.uri` (one per line), never "every certificate of its issuer".
    pub crl_dir: PathBuf,
    /// Personal policy OIDs accepted from GPKI issuing CAs. Default: PKI.md's two personal
    /// policies. Exact OIDs only, never prefixes.
    #[serde(default = "default_gpki_policies")]
    pub gpki_policies: Vec<String>,
    /// Personal policy OIDs accepted from EPKI issuing CAs. Default: 1.2.410.100001.5.3.1.3.
    #[serde(default = "default_epki_policies")]
    pub epki_policies: Vec<String>,
    /// Also accept the special-purpose (특수목적) policies, for institution mailboxes.
    /// Default off: they are not personal certificates.
    #[serde(default)]
    pub allow_special_purpose: bool,
    /// Common names of issuing CAs that are EPKI (the rest are GPKI). A certificate is
    /// also EPKI when it carries an EPKI policy OID. Default: `CA134100031`.
    #[serde(default = "default_epki_issuer_cns")]
    pub epki_issuer_cns: Vec<String>,
    /// Case-insensitive fragments of an issuer DN that mark a bank/NPKI CA, so the refusal
    /// can say so by name. Default: the KISA root and the accredited NPKI CAs.
    #[serde(default = "default_npki_issuer_markers")]
    pub npki_issuer_markers: Vec<String>,
    /// Policy OID arcs of NPKI CAs (a policy equal to or under one of these is NPKI).
    /// Default: 1.2.410.200004.5, 1.2.410.200005.1.1, 1.2.410.200012.1.1.
    #[serde(default = "default_npki_policy_arcs")]
    pub npki_policy_arcs: Vec<String>,
    /// Seconds a CRL stays usable after its nextUpdate before sign-ins fail closed with
    /// `revocation_unknown`. Default 86400 (one day): the LDAP fetch job may lag.
    #[serde(default = "default_crl_grace_secs")]
    pub crl_grace_secs: u64,
    /// Seconds of clock difference tolerated on both ends of a validity period.
    /// Default 300 (five minutes), the usual client clock drift.
    #[serde(default = "default_clock_skew_secs")]
    pub clock_skew_secs: u64,
}

fn default_gpki_policies() -> Vec<String> {
    vec![
        OID_GPKI_CIVIL_SERVANT.to_owned(),
        OID_GPKI_PUBLIC_PERSONAL.to_owned(),
    ]
}

fn default_epki_policies() -> Vec<String> {
    vec![OID_EPKI_PERSONAL.to_owned()]
}

fn default_epki_issuer_cns() -> Vec<String> {
    vec!["CA134100031".to_owned()]
}

fn default_npki_issuer_markers() -> Vec<String> {
    [
        "KISA RootCA",
        "O=KISA",
        "yessign",
        "signGATE",
        "O=KICA",
        "CrossCert",
        "SignKorea",
        "INIPASS",
        "TradeSign",
        "NCASign",
        "OU=AccreditedCA",
        "OU=Korea Certification Authority Central",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn default_npki_policy_arcs() -> Vec<String> {
    [
        "1.2.410.200004.5",
        "1.2.410.200005.1.1",
        "1.2.410.200012.1.1",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn default_crl_grace_secs() -> u64 {
    86_400
}

fn default_clock_skew_secs() -> u64 {
    300
}

impl PkiConfig {
    /// A configuration with PKI.md's defaults for everything but the two directories.
    pub fn new(certs_dir: impl Into<PathBuf>, crl_dir: impl Into<PathBuf>) -> Self {
        PkiConfig {
            certs_dir: certs_dir.into(),
            crl_dir: crl_dir.into(),
            gpki_policies: default_gpki_policies(),
            epki_policies: default_epki_policies(),
            allow_special_purpose: false,
            epki_issuer_cns: default_epki_issuer_cns(),
            npki_issuer_markers: default_npki_issuer_markers(),
            npki_policy_arcs: default_npki_policy_arcs(),
            crl_grace_secs: default_crl_grace_secs(),
            clock_skew_secs: default_clock_skew_secs(),
        }
    }

    /// Every problem in the configuration, each naming its key (empty when valid).
    /// Directories are checked when the PKI loads, not here.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let oid_lists = [
            ("pki.gpki_policies", &self.gpki_policies),
            ("pki.epki_policies", &self.epki_policies),
            ("pki.npki_policy_arcs", &self.npki_policy_arcs),
        ];
        for (key, list) in oid_lists {
            for oid in list {
                if const_oid::ObjectIdentifier::new(oid).is_err() {
                    problems.push(format!("{key}: {oid:?} is not a dotted OID"));
                }
            }
        }
        for oid in self.gpki_policies.iter().chain(&self.epki_policies) {
            if self.npki_policy_arcs.iter().any(|arc| oid_under(oid, arc)) {
                problems.push(format!(
                    "pki.*_policies: {oid} is an NPKI (bank) policy and may not be accepted"
                ));
            }
        }
        if self.gpki_policies.is_empty() && self.epki_policies.is_empty() {
            problems.push(
                "pki.gpki_policies / pki.epki_policies: both empty, no certificate could sign in"
                    .to_owned(),
            );
        }
        if self.clock_skew_secs > 86_400 {
            problems.push("pki.clock_skew_secs: more than one day".to_owned());
        }
        problems
    }

    /// Accepted GPKI policies, with the special-purpose one when enabled.
    pub fn effective_gpki_policies(&self) -> Vec<String> {
        let mut v = self.gpki_policies.clone();
        if self.allow_special_purpose {
            v.push(OID_GPKI_SPECIAL.to_owned());
        }
        v
    }

    /// Accepted EPKI policies, with the special-purpose one when enabled.
    pub fn effective_epki_policies(&self) -> Vec<String> {
        let mut v = self.epki_policies.clone();
        if self.allow_special_purpose {
            v.push(OID_EPKI_SPECIAL.to_owned());
        }
        v
    }
}

/// True when `oid` equals `arc` or lies under it (`arc` + "." + more).
pub(crate) fn oid_under(oid: &str, arc: &str) -> bool {
    oid == arc
        || oid
            .strip_prefix(arc)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_from_pki_md() {
        let c: PkiConfig =
            toml::from_str("certs_dir = \"/c\"\ncrl_dir = \"/r\"\n").expect("parses");
        assert_eq!(c, PkiConfig::new("/c", "/r"));
        assert_eq!(
            c.gpki_policies,
            ["1.2.410.100001.2.2.1", "1.2.410.100001.2.2.2"]
        );
        assert_eq!(c.epki_policies, ["1.2.410.100001.5.3.1.3"]);
        assert!(
            !c.effective_gpki_policies()
                .contains(&OID_GPKI_SPECIAL.to_owned())
        );
        assert!(c.validate().is_empty());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<PkiConfig, _> =
            toml::from_str("certs_dir = \"/c\"\ncrl_dir = \"/r\"\ncrl_dir_x = 1\n");
        assert!(r.is_err());
    }

    #[test]
    fn validate_names_every_bad_key() {
        let mut c = PkiConfig::new("/c", "/r");
        c.gpki_policies = vec!["not-an-oid".into(), "1.2.410.200005.1.1.4".into()];
        c.clock_skew_secs = 100_000;
        let p = c.validate();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("pki.gpki_policies"));
    }

    #[test]
    fn arcs_match_whole_components() {
        assert!(oid_under("1.2.410.200005.1.1.4", "1.2.410.200005.1.1"));
        assert!(!oid_under("1.2.410.200005.1.10", "1.2.410.200005.1.1"));
    }
}
