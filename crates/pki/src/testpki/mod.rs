//! A test and development PKI shaped like GPKI, EPKI and NPKI (feature `testpki`).
//!
//! [`TestPki`] makes the real shapes (PKI.md): a `GPKIRootCA1`-like root; issuing CAs
//! `CA131100001` (GPKI) and `CA134100031` (EPKI) with a **critical policyConstraints**;
//! users `CN=<code><name><nn>,OU=people,OU=<agency>,O=Government of Korea,C=KR` in
//! UTF8String with the KISA identifyData SAN and LDAP CDP URIs; **critical
//! certificatePolicies** on EPKI users; partitioned CRLs with and without IDP; an NPKI-like
//! chain (`KISA RootCA 4` → `yessignCA Class 2`); and a server certificate for
//! localhost/127.0.0.1 from its *own* CA (never one with critical policyConstraints, which
//! GnuTLS refuses). Keys are ECDSA P-256 unless a spec brings its own; RSA keys, SHA-1
//! signatures and RSA-1024 come from the `openssl` CLI ([`openssl`]), used only by tests.
//! [`DevPki`] writes the files `certmail dev` needs.

mod dev;
pub mod openssl;
mod patch;
mod profile;

pub use dev::{DevPki, pkcs12};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CrlIssuingDistributionPoint, DnType, ExtendedKeyUsagePurpose, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber, SigningKey,
};
use time::OffsetDateTime;

use crate::config::{OID_EPKI_PERSONAL, OID_GPKI_CIVIL_SERVANT};
use crate::error::{Error, Result};
use profile::{ca_params, dn, ec_key, gov, user_params};

/// GPKI server/computer policy (never accepted for users).
pub const OID_GPKI_SERVER: &str = "1.2.410.100001.2.1.2";
/// GPKI institution seal policy (never accepted for users).
pub const OID_GPKI_INSTITUTION: &str = "1.2.410.100001.2.1.1";
/// A yessign (NPKI) personal bank-use policy.
pub const OID_NPKI_YESSIGN: &str = "1.2.410.200005.1.1.4";

/// The LDAP CDP URI of GPKI CA131100001's CRL partition `n` (real shape).
pub fn gpki_cdp(partition: u32) -> String {
    format!(
        "ldap://cen.dir.go.kr:389/cn=crl1p1dp{partition},cn=CA131100001,ou=GPKI,o=Government of Korea,c=KR?certificateRevocationList;binary"
    )
}

/// The LDAP CDP URI of EPKI CA134100031's CRL partition `n` (real shape).
pub fn epki_cdp(partition: u32) -> String {
    format!(
        "ldap://ldap.epki.go.kr:389/cn=crl1p1dp{partition},ou=CRL,ou=GPKI,o=Government of Korea,c=kr?certificateRevocationList;binary"
    )
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::TestPki(e.to_string())
}

fn time_of(unix: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(err)
}

/// A test CA: its certificate and the means to sign with it.
pub struct TestCa {
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
    /// The CA's private key, PKCS#8 PEM (for openssl re-signing).
    pub key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }

    fn new(params: CertificateParams, key: KeyPair, signer: Option<&TestCa>) -> Result<TestCa> {
        let cert = match signer {
            Some(s) => params.signed_by(&key, &s.issuer),
            None => params.self_signed(&key),
        }
        .map_err(err)?;
        Ok(TestCa {
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }
}

/// PEM armour around DER.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The key a test user gets.
#[derive(Debug, Clone)]
pub enum UserKey {
    /// A fresh ECDSA P-256 key (rcgen).
    EcdsaP256,
    /// An RSA key made by openssl ([`openssl::rsa_key`]).
    Rsa(openssl::RsaKey),
}

/// Distortions no well-formed generator makes, applied after issuing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distortion {
    /// None: a normal certificate.
    None,
    /// The key algorithm OID becomes KCDSA's (the key bits stay), re-signed by the CA.
    KcdsaKey,
    /// Re-signed by the CA with SHA-1 (ecdsa-with-SHA1, via openssl).
    Sha1Signature,
}

/// What a test user certificate looks like.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// The CN, e.g. `043김철수001`.
    pub cn: String,
    /// Subject OUs below `OU=people`'s parent, outermost first (e.g. `["통계청"]`); the DN
    /// is `CN=..,OU=people,OU=<agency>,O=<org>,C=<country>`.
    pub agency: String,
    /// O (`Government of Korea` for GPKI/EPKI).
    pub organization: String,
    /// KISA identifyData realName, when the SAN is present.
    pub real_name: Option<String>,
    /// certificatePolicies OIDs (empty: no extension).
    pub policies: Vec<String>,
    /// Mark certificatePolicies critical (EPKI, NPKI).
    pub critical_policies: bool,
    /// CRL distribution point URIs.
    pub cdp_uris: Vec<String>,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// The key.
    pub key: UserKey,
    /// A critical extension nobody understands (OID 1.2.3.4.5.6.7), for the refusal test.
    pub unknown_critical_extension: bool,
    /// Post-issue distortion.
    pub distortion: Distortion,
}

impl UserSpec {
    /// A GPKI civil servant of 통계청, partition 146, valid around `now` for ~27 months;
    /// realName copies the CN, as in the old GPKI sample, so the CN rule applies.
    pub fn gpki(person: &str, now: i64) -> UserSpec {
        let cn = format!("043{person}001");
        UserSpec {
            real_name: Some(cn.clone()),
            cn,
            agency: "통계청".into(),
            organization: "Government of Korea".into(),
            policies: vec![OID_GPKI_CIVIL_SERVANT.into()],
            critical_policies: false,
            cdp_uris: vec![gpki_cdp(146)],
            not_before: now - 86_400,
            not_after: now + 820 * 86_400,
            key: UserKey::EcdsaP256,
            unknown_critical_extension: false,
            distortion: Distortion::None,
        }
    }

    /// An EPKI teacher of 서울특별시교육청 with critical certificatePolicies, realName the
    /// plain name, partition 16306.
    pub fn epki(person: &str, now: i64) -> UserSpec {
        UserSpec {
            cn: format!("850{person}001"),
            agency: "서울특별시교육청".into(),
            real_name: Some(person.into()),
            policies: vec![OID_EPKI_PERSONAL.into()],
            critical_policies: true,
            cdp_uris: vec![epki_cdp(16306)],
            ..UserSpec::gpki(person, now)
        }
    }
}

/// An issued user certificate and its key.
#[derive(Clone)]
pub struct UserCert {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_pkcs8_der: Vec<u8>,
    /// The serial number given to rcgen.
    pub serial: u64,
}

impl std::fmt::Debug for UserCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCert")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl UserCert {
    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_der)
    }
    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.key_pkcs8_der)
    }
}

/// The whole test PKI (see the module docs).
#[derive(Debug)]
pub struct TestPki {
    /// `CN=GPKIRootCA1,OU=GPKI,O=Government of Korea,C=KR`.
    pub gpki_root: TestCa,
    /// `CN=CA131100001,OU=GPKI,…`, critical policyConstraints.
    pub gpki_ca: TestCa,
    /// `CN=CA134100031,OU=GPKI,…` (EPKI), critical policyConstraints.
    pub epki_ca: TestCa,
    /// `CN=KISA RootCA 4,OU=Korea Certification Authority Central,O=KISA,C=KR`.
    pub npki_root: TestCa,
    /// `CN=yessignCA Class 2,OU=AccreditedCA,O=yessign,C=kr`.
    pub npki_ca: TestCa,
    /// `CN=certmail test server CA,O=certmail test,C=KR`: issues server certificates only.
    pub server_ca: TestCa,
    next_serial: AtomicU64,
}

/// `CN=CA131100001`: the GPKI issuing CA (institution, server and civil-servant policies).
fn gpki_issuing_ca(root: &TestCa) -> Result<TestCa> {
    TestCa::new(
        ca_params(
            gov("CA131100001"),
            &[
                OID_GPKI_INSTITUTION,
                OID_GPKI_SERVER,
                "1.2.410.100001.2.1.3",
                OID_GPKI_CIVIL_SERVANT,
            ],
            true,
        )?,
        ec_key()?,
        Some(root),
    )
}

/// `CN=CA134100031`: the EPKI issuing CA (personal policies).
fn epki_issuing_ca(root: &TestCa) -> Result<TestCa> {
    TestCa::new(
        ca_params(
            gov("CA134100031"),
            &[
                OID_EPKI_PERSONAL,
                "1.2.410.100001.5.3.1.1",
                "1.2.410.100001.5.3.1.7",
            ],
            true,
        )?,
        ec_key()?,
        Some(root),
    )
}

/// `CN=KISA RootCA 4`: the NPKI root.
fn npki_root_ca() -> Result<TestCa> {
    TestCa::new(
        ca_params(
            dn(&[
                (DnType::CountryName, "KR"),
                (DnType::OrganizationName, "KISA"),
                (
                    DnType::OrganizationalUnitName,
                    "Korea Certification Authority Central",
                ),
                (DnType::CommonName, "KISA RootCA 4"),
            ]),
            &[],
            false,
        )?,
        ec_key()?,
        None,
    )
}

/// `CN=yessignCA Class 2`: an NPKI issuing CA.
fn npki_issuing_ca(root: &TestCa) -> Result<TestCa> {
    TestCa::new(
        ca_params(
            dn(&[
                (DnType::CountryName, "kr"),
                (DnType::OrganizationName, "yessign"),
                (DnType::OrganizationalUnitName, "AccreditedCA"),
                (DnType::CommonName, "yessignCA Class 2"),
            ]),
            &[OID_NPKI_YESSIGN],
            false,
        )?,
        ec_key()?,
        Some(root),
    )
}

/// `CN=certmail test server CA`: its own root, issuing server certificates only.
fn server_ca() -> Result<TestCa> {
    TestCa::new(
        ca_params(
            dn(&[
                (DnType::CountryName, "KR"),
                (DnType::OrganizationName, "certmail test"),
                (DnType::CommonName, "certmail test server CA"),
            ]),
            &[],
            false,
        )?,
        ec_key()?,
        None,
    )
}

impl TestPki {
    /// Generate every CA (ECDSA P-256 keys; no openssl needed).
    pub fn new() -> Result<TestPki> {
        let gpki_root = TestCa::new(ca_params(gov("GPKIRootCA1"), &[], false)?, ec_key()?, None)?;
        let gpki_ca = gpki_issuing_ca(&gpki_root)?;
        let epki_ca = epki_issuing_ca(&gpki_root)?;
        let npki_root = npki_root_ca()?;
        let npki_ca = npki_issuing_ca(&npki_root)?;
        let server_ca = server_ca()?;
        Ok(TestPki {
            gpki_root,
            gpki_ca,
            epki_ca,
            npki_root,
            npki_ca,
            server_ca,
            next_serial: AtomicU64::new(0x1000),
        })
    }

    /// A CA with the same subject as `like` but a different key: its certificates carry
    /// the right issuer name and a signature the real CA's key does not verify.
    pub fn impostor_of(&self, like: &TestCa) -> Result<TestCa> {
        let parsed =
            <x509_cert::Certificate as der::Decode>::from_der(&like.cert_der).map_err(err)?;
        let cn = parsed
            .tbs_certificate()
            .subject()
            .common_name()
            .map_err(err)?
            .map(|d| d.value().into_owned())
            .unwrap_or_default();
        TestCa::new(ca_params(gov(&cn), &[], true)?, ec_key()?, None)
    }

    /// A GPKI-style issuing CA `CN=<cn>,OU=GPKI,O=Government of Korea,C=KR` signed by
    /// `signer` (critical policyConstraints, GPKI personal policy).
    pub fn sub_ca(&self, signer: &TestCa, cn: &str) -> Result<TestCa> {
        TestCa::new(
            ca_params(gov(cn), &[OID_GPKI_CIVIL_SERVANT], true)?,
            ec_key()?,
            Some(signer),
        )
    }

    /// An unrelated CA, neither GPKI/EPKI nor NPKI: `CN=Example Issuing CA,O=Example Corp,C=US`.
    pub fn foreign_ca(&self) -> Result<TestCa> {
        let subject = dn(&[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Example Corp"),
            (DnType::CommonName, "Example Issuing CA"),
        ]);
        TestCa::new(ca_params(subject, &[], false)?, ec_key()?, None)
    }

    /// Issue a user certificate from `ca` as `spec` says. `work_dir` is used by openssl
    /// for the SHA-1 distortion.
    pub fn issue(&self, ca: &TestCa, spec: &UserSpec, work_dir: &Path) -> Result<UserCert> {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let params = user_params(spec, serial)?;
        let (der, key_der) = match &spec.key {
            UserKey::EcdsaP256 => {
                let key = ec_key()?;
                let cert = params.signed_by(&key, &ca.issuer).map_err(err)?;
                (cert.der().to_vec(), key.serialize_der())
            }
            UserKey::Rsa(rsa) => {
                let public = rcgen::SubjectPublicKeyInfo::from_der(&rsa.spki_der).map_err(err)?;
                let cert = params.signed_by(&public, &ca.issuer).map_err(err)?;
                (cert.der().to_vec(), rsa.pkcs8_der.clone())
            }
        };
        let cert_der = match spec.distortion {
            Distortion::None => der,
            Distortion::KcdsaKey => {
                let (tbs, alg) = patch::split_cert(&der)?;
                let tbs = patch::replace_tbs_field(&tbs, 6, patch::kcdsa_spki(&tbs)?)?;
                let sig = ca.issuer.key().sign(&tbs).map_err(err)?;
                patch::join_cert(&tbs, &alg, &sig)
            }
            Distortion::Sha1Signature => {
                let (tbs, _) = patch::split_cert(&der)?;
                let alg = patch::ECDSA_SHA1_ALG.to_vec();
                let tbs = patch::replace_tbs_field(&tbs, 2, alg.clone())?;
                let sig = openssl::sign_sha1(work_dir, &ca.key_pem, &tbs)?;
                patch::join_cert(&tbs, &alg, &sig)
            }
        };
        Ok(UserCert {
            cert_der,
            key_pkcs8_der: key_der,
            serial,
        })
    }

    /// A CRL from `ca` listing `revoked`, with an IssuingDistributionPoint naming `idp_uri`
    /// when given (without one, the CRL needs a sidecar file to be used).
    pub fn crl(
        &self,
        ca: &TestCa,
        idp_uri: Option<&str>,
        revoked: &[&UserCert],
        this_update: i64,
        next_update: i64,
    ) -> Result<Vec<u8>> {
        let crl_number = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let params = CertificateRevocationListParams {
            this_update: time_of(this_update)?,
            next_update: time_of(next_update)?,
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: idp_uri.map(|u| CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint {
                    uris: vec![u.to_owned()],
                },
                scope: None,
            }),
            revoked_certs: revoked
                .iter()
                .map(|u| {
                    Ok(RevokedCertParams {
                        serial_number: SerialNumber::from(u.serial),
                        revocation_time: time_of(this_update)?,
                        reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                        invalidity_date: None,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&ca.issuer).map_err(err)?.der().to_vec())
    }

    /// Write the GPKI root and the two issuing CAs (not NPKI, not the server CA) as PEM
    /// files into `dir` (created if missing): what an operator installs.
    pub fn write_certs_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (file, ca) in [
            ("GPKIRootCA1.pem", &self.gpki_root),
            ("CA131100001.pem", &self.gpki_ca),
            ("CA134100031.pem", &self.epki_ca),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, ca.cert_pem()).map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// A server certificate for `localhost`, `127.0.0.1` and `::1`, issued by
    /// [`TestPki::server_ca`] (ECDSA P-256, serverAuth, one year).
    pub fn server_cert(&self) -> Result<UserCert> {
        self.server_cert_for(&["localhost"], true)
    }

    /// A server certificate naming the DNS `names` (the first is the CN), and with
    /// `loopback` the addresses `127.0.0.1` and `::1`, issued like [`TestPki::server_cert`]
    /// (the relay's MX and MTA-STS tests name test hosts such as `mx.remote.kr`).
    pub fn server_cert_for(&self, names: &[&str], loopback: bool) -> Result<UserCert> {
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let dns: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut p = CertificateParams::new(dns).map_err(err)?;
        if loopback {
            p.subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            p.subject_alt_names.push(SanType::IpAddress(IpAddr::V6(
                std::net::Ipv6Addr::LOCALHOST,
            )));
        }
        p.distinguished_name = dn(&[(DnType::CommonName, names.first().copied().unwrap_or(""))]);
        p.serial_number = Some(SerialNumber::from(serial));
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.not_before = time_of(crate::now_unix() - 86_400)?;
        p.not_after = time_of(crate::now_unix() + 365 * 86_400)?;
        p.use_authority_key_identifier_extension = true;
        let key = ec_key()?;
        let cert = p.signed_by(&key, &self.server_ca.issuer).map_err(err)?;
        Ok(UserCert {
            cert_der: cert.der().to_vec(),
            key_pkcs8_der: key.serialize_der(),
            serial,
        })
    }
}
