//! The GPKI/EPKI certificate profile in rcgen terms: DNs, policies, identifyData, CA and
//! user parameters.

use der::Encode;
use der::asn1::{Any, ObjectIdentifier, Utf8StringRef};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, DnValue, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{CertificatePolicies, SubjectAltName};

use super::{UserSpec, err, time_of};
use crate::error::Result;
use crate::name::OID_KISA_IDENTIFY_DATA;

pub(super) fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    for (ty, value) in parts {
        let v = if *ty == DnType::CountryName {
            match rcgen::string::PrintableString::try_from(*value) {
                Ok(p) => DnValue::PrintableString(p),
                Err(_) => DnValue::Utf8String((*value).to_owned()),
            }
        } else {
            DnValue::Utf8String((*value).to_owned())
        };
        d.push(ty.clone(), v);
    }
    d
}

/// A second OU attribute: rcgen keeps one value per type, so the inner `OU=people` is
/// pushed as a custom type with the same OID (2.5.4.11).
fn ou2() -> DnType {
    DnType::CustomDnType(vec![2, 5, 4, 11])
}

pub(super) fn ext_der(oid: &[u64], critical: bool, content: Vec<u8>) -> CustomExtension {
    let mut e = CustomExtension::from_oid_content(oid, content);
    e.set_criticality(critical);
    e
}

pub(super) fn policies_der(oids: &[String]) -> Result<Vec<u8>> {
    let infos = oids
        .iter()
        .map(|o| {
            Ok(PolicyInformation {
                policy_identifier: ObjectIdentifier::new(o).map_err(err)?,
                policy_qualifiers: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    CertificatePolicies(infos).to_der().map_err(err)
}

/// The KISA identifyData SAN: otherName 1.2.410.200004.10.1.1 = SEQUENCE { realName }.
pub(super) fn identify_data_san(real_name: &str) -> Result<Vec<u8>> {
    let name = Any::encode_from(&Utf8StringRef::new(real_name).map_err(err)?).map_err(err)?;
    let value = Any::encode_from(&vec![name]).map_err(err)?;
    SubjectAltName(vec![GeneralName::OtherName(OtherName {
        type_id: OID_KISA_IDENTIFY_DATA,
        value,
    })])
    .to_der()
    .map_err(err)
}

pub(super) fn ca_params(
    subject: DistinguishedName,
    policies: &[&str],
    policy_constraints: bool,
) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = subject;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(if policies.is_empty() {
        1
    } else {
        0
    }));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = time_of(crate::now_unix() - 365 * 86_400)?;
    p.not_after = time_of(crate::now_unix() + 10 * 365 * 86_400)?;
    p.use_authority_key_identifier_extension = true;
    if !policies.is_empty() {
        let owned: Vec<String> = policies.iter().map(|s| (*s).to_owned()).collect();
        p.custom_extensions
            .push(ext_der(&[2, 5, 29, 32], false, policies_der(&owned)?));
    }
    if policy_constraints {
        // PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] IMPLICIT 0 }, critical
        // as on the real GPKI/EPKI issuing CAs.
        p.custom_extensions.push(ext_der(
            &[2, 5, 29, 36],
            true,
            vec![0x30, 0x03, 0x80, 0x01, 0x00],
        ));
    }
    Ok(p)
}

pub(super) fn gov(cn: &str) -> DistinguishedName {
    dn(&[
        (DnType::CountryName, "KR"),
        (DnType::OrganizationName, "Government of Korea"),
        (DnType::OrganizationalUnitName, "GPKI"),
        (DnType::CommonName, cn),
    ])
}

pub(super) fn ec_key() -> Result<KeyPair> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)
}

/// rcgen parameters for a user certificate.
pub(super) fn user_params(spec: &UserSpec, serial: u64) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(&[
        (DnType::CountryName, "KR"),
        (DnType::OrganizationName, &spec.organization),
        (DnType::OrganizationalUnitName, &spec.agency),
        (ou2(), "people"),
        (DnType::CommonName, &spec.cn),
    ]);
    p.serial_number = Some(SerialNumber::from(serial));
    p.not_before = time_of(spec.not_before)?;
    p.not_after = time_of(spec.not_after)?;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    p.use_authority_key_identifier_extension = true;
    if !spec.cdp_uris.is_empty() {
        p.crl_distribution_points = vec![CrlDistributionPoint {
            uris: spec.cdp_uris.clone(),
        }];
    }
    if !spec.policies.is_empty() {
        p.custom_extensions.push(ext_der(
            &[2, 5, 29, 32],
            spec.critical_policies,
            policies_der(&spec.policies)?,
        ));
    }
    if let Some(real_name) = &spec.real_name {
        p.custom_extensions.push(ext_der(
            &[2, 5, 29, 17],
            false,
            identify_data_san(real_name)?,
        ));
    }
    if spec.unknown_critical_extension {
        p.custom_extensions
            .push(ext_der(&[1, 2, 3, 4, 5, 6, 7], true, vec![0x05, 0x00]));
    }
    Ok(p)
}
