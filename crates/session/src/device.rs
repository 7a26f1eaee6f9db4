//! The device key: what makes two connections "the same signed-in device".

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One signed-in device, fixed at sign-in and never changed afterwards (DESIGN.md "One
/// active session per account").
///
/// It is the SHA-256 of the client certificate's SubjectPublicKeyInfo plus the client's IP
/// address. Nothing the client sends later (IMAP ID, EHLO name) changes it, so Thunderbird's
/// SMTP sign-in joins its IMAP session instead of replacing it. Two devices behind one NAT
/// address that use the same certificate are, by this definition, one device.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceKey {
    /// SHA-256 of the client certificate's DER SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The client's address as seen by the listener.
    pub ip: IpAddr,
}

impl DeviceKey {
    /// The device key of a connection from `ip` presenting a certificate whose SPKI hashes to
    /// `spki_sha256`.
    pub fn new(spki_sha256: [u8; 32], ip: IpAddr) -> Self {
        Self { spki_sha256, ip }
    }

    /// The key the device registry (TOTP for new devices, the per-account device cap,
    /// new-device notices) files this device under: the SPKI hash and the client's network
    /// (/24 for IPv4, /64 for IPv6), so a laptop whose DHCP lease changes stays known.
    pub fn registry_key(&self) -> DeviceRegistryKey {
        DeviceRegistryKey {
            spki_sha256: self.spki_sha256,
            network: NetworkPrefix::of(self.ip),
        }
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DeviceKey({} @ {})",
            spki_short(&self.spki_sha256),
            self.ip
        )
    }
}

impl fmt::Display for DeviceKey {
    /// `1a2b3c4d5e6f7a8b@203.0.113.5`: the first 8 bytes of the SPKI hash, then the address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", spki_short(&self.spki_sha256), self.ip)
    }
}

/// A client network: an address with its host bits cleared, and the prefix length kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetworkPrefix {
    /// The network address (host bits zero).
    pub network: IpAddr,
    /// The prefix length in bits: 24 for IPv4, 64 for IPv6.
    pub prefix_len: u8,
}

impl NetworkPrefix {
    /// Prefix length the device registry uses for IPv4 clients.
    pub const IPV4_PREFIX_LEN: u8 = 24;
    /// Prefix length the device registry uses for IPv6 clients (one end site's subnet).
    pub const IPV6_PREFIX_LEN: u8 = 64;

    /// The registry network of `ip`. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
    /// dual-stack listener reports for IPv4 clients) counts as the IPv4 address it carries.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::v4(v4),
                None => Self::v6(v6),
            },
        }
    }

    fn v4(ip: Ipv4Addr) -> Self {
        let mask = u32::MAX << (32 - u32::from(Self::IPV4_PREFIX_LEN));
        Self {
            network: IpAddr::V4(Ipv4Addr::from(u32::from(ip) & mask)),
            prefix_len: Self::IPV4_PREFIX_LEN,
        }
    }

    fn v6(ip: Ipv6Addr) -> Self {
        let mask = u128::MAX << (128 - u32::from(Self::IPV6_PREFIX_LEN));
        Self {
            network: IpAddr::V6(Ipv6Addr::from(u128::from(ip) & mask)),
            prefix_len: Self::IPV6_PREFIX_LEN,
        }
    }
}

impl fmt::Display for NetworkPrefix {
    /// CIDR notation: `203.0.113.0/24`, `2001:db8:1:2::/64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

/// The device registry's key for a device: certificate SPKI hash and client network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceRegistryKey {
    /// SHA-256 of the client certificate's DER SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The client's network.
    pub network: NetworkPrefix,
}

/// The first 8 bytes of an SPKI hash in lowercase hex: enough to tell devices apart in logs
/// and `certmail session list`.
fn spki_short(spki: &[u8; 32]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(16);
    for byte in &spki[..8] {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> DeviceKey {
        DeviceKey::new([0xab; 32], ip.parse().expect("test address"))
    }

    #[test]
    fn ipv4_registry_key_is_the_slash_24() {
        let a = key("203.0.113.5").registry_key();
        let b = key("203.0.113.200").registry_key();
        let c = key("203.0.114.5").registry_key();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.network.to_string(), "203.0.113.0/24");
    }

    #[test]
    fn ipv6_registry_key_is_the_slash_64() {
        let a = key("2001:db8:1:2:aaaa::1").registry_key();
        let b = key("2001:db8:1:2:bbbb::9").registry_key();
        let c = key("2001:db8:1:3::1").registry_key();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.network.to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        let mapped = key("::ffff:203.0.113.77").registry_key();
        assert_eq!(mapped, key("203.0.113.1").registry_key());
    }

    #[test]
    fn another_certificate_is_another_device() {
        let mut other = key("203.0.113.5");
        other.spki_sha256[0] = 0;
        assert_ne!(other, key("203.0.113.5"));
        assert_ne!(other.registry_key(), key("203.0.113.5").registry_key());
    }

    #[test]
    fn display_shows_short_spki_and_address() {
        assert_eq!(
            key("203.0.113.5").to_string(),
            "abababababababab@203.0.113.5"
        );
    }
}
