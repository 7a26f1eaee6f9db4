//! Account security policy: the settings a sign-in is decided under, the per-IP throttle
//! on failed sign-ins, password rules and network allowlists.
//!
//! The daemon builds one [`SignInPolicy`] from its `[auth]` section and hands clones to
//! IMAP and SMTP; the [`IpThrottle`] inside is shared (an `Arc`), so failures over IMAP
//! and SMTP count together. In a cluster the throttle counts in the database
//! ([`SharedWindows`], [`IpThrottle::shared`]), so failures on every node count together.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Policy for sign-in (the daemon's `[auth]` section).
#[derive(Debug, Clone)]
pub struct SignInPolicy {
    /// The password is required as a second factor (EXTERNAL alone is refused).
    pub require_password: bool,
    /// Consecutive failed second factors (with a certificate bound to the account) that
    /// lock the account; 0 never locks.
    pub lockout_threshold: u32,
    /// Seconds an automatic lock lasts; 0 keeps it until an admin unlocks.
    pub lockout_secs: i64,
    /// Seconds a password stays valid; 0 never expires.
    pub password_max_age_secs: i64,
    /// Seconds a temporary password (set by an admin) stays valid; 0 never expires.
    pub temporary_password_secs: i64,
    /// Whom users should ask, for refusal sentences ("your mail administrator (…)").
    pub contact: String,
    /// Where a person changes an expired password themselves, as a sentence
    /// ("Change it at https://mail.example.go.kr/password."): the `password_expired`
    /// refusal says it instead of "ask the administrator". `None` (the web is off): it
    /// says whom to ask.
    pub password_change_hint: Option<String>,
    /// Allowed networks per organisation; an organisation not listed may sign in from
    /// anywhere. An account's own list (`settings["networks"]`) replaces its organisation's.
    pub networks: BTreeMap<String, Vec<Cidr>>,
    /// The per-IP throttle on failed sign-ins, shared by every protocol. It counts only
    /// attempts whose certificate passed (rows 9 on), so it never locks out a shared NAT
    /// address because of clients without a certificate.
    pub throttle: Arc<IpThrottle>,
    /// The per-IP throttle on attempts refused before any credential is checked (no
    /// certificate, a certificate the PKI refuses): such an address is refused at once for
    /// the rest of the window, but only attempts without a valid certificate; a valid
    /// certificate from the same address still signs in.
    pub precredential_throttle: Arc<IpThrottle>,
    /// Seconds a device that gave a TOTP code stays trusted after it was last seen.
    pub totp_remember_secs: i64,
    /// Devices remembered per account; a new one beyond pushes out the least recent.
    pub max_devices: usize,
    /// Called with the account id when failed sign-ins lock an account, so the daemon can
    /// end its live session (DESIGN.md: an account lock ends the account's sessions).
    pub on_lock: Option<LockHook>,
    /// Called with (account id, device network, address) when an account that already had
    /// devices signs in from one it has not seen, so the daemon can tell the user.
    pub on_new_device: Option<NewDeviceHook>,
    /// How long and how many matched passwords are remembered (the sign-in cache,
    /// [`crate::remembered`]).
    pub signin_cache: crate::remembered::CacheLimits,
    /// What every sign-in of one daemon shares (per-account gates, outcome counters); keep
    /// the same one across reloads, as for `throttle`.
    pub state: Arc<SignInState>,
}

/// What to do when an account signs in from a new device (the daemon delivers a notice).
#[derive(Clone)]
pub struct NewDeviceHook(pub Arc<NewDeviceFn>);

/// The callback of a [`NewDeviceHook`]: (account id, device network, address).
pub type NewDeviceFn = dyn Fn(&str, &str, std::net::IpAddr) + Send + Sync;

impl std::fmt::Debug for NewDeviceHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewDeviceHook")
    }
}

/// What to do when failed sign-ins lock an account (the daemon ends its live session).
#[derive(Clone)]
pub struct LockHook(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for LockHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockHook")
    }
}

impl Default for SignInPolicy {
    fn default() -> Self {
        Self {
            require_password: true,
            lockout_threshold: 5,
            lockout_secs: 0,
            password_max_age_secs: 90 * 86_400,
            temporary_password_secs: 72 * 3600,
            contact: "your mail administrator".into(),
            password_change_hint: None,
            networks: BTreeMap::new(),
            throttle: Arc::new(IpThrottle::new(30, 300)),
            precredential_throttle: Arc::new(IpThrottle::new(100, 300)),
            totp_remember_secs: 30 * 86_400,
            max_devices: 20,
            on_lock: None,
            on_new_device: None,
            signin_cache: crate::remembered::CacheLimits::default(),
            state: Arc::new(SignInState::default()),
        }
    }
}

/// Stripes of the per-account sign-in gate: accounts whose ids hash alike share one, so
/// the gates stay a fixed size however many accounts sign in.
const GATE_STRIPES: usize = 64;

/// What every sign-in of one daemon shares, IMAP and SMTP alike: the per-account gates
/// that decide one account's sign-ins one at a time, the outcome counters of the metrics
/// endpoint and the argon2 pool. One per daemon (two daemons in one process keep apart).
#[derive(Debug)]
pub struct SignInState {
    gates: Vec<tokio::sync::Mutex<()>>,
    outcomes: Mutex<BTreeMap<(String, String), u64>>,
    /// The argon2 permits and working memory for every password this daemon checks or sets.
    pub passwords: crate::password::PasswordPool,
    /// Passwords that matched recently (the sign-in cache).
    pub remembered: crate::remembered::Remembered,
}

impl Default for SignInState {
    fn default() -> Self {
        Self {
            gates: (0..GATE_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            outcomes: Mutex::new(BTreeMap::new()),
            passwords: crate::password::PasswordPool::default(),
            remembered: crate::remembered::Remembered::default(),
        }
    }
}

impl SignInState {
    /// Waits for the gate of `account`: sign-ins of one account are decided one at a
    /// time, so its failure counter and last TOTP step are read and written without a
    /// race. (Another account on the same stripe waits too, for one decision.)
    pub(crate) async fn gate(&self, account: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        account.hash(&mut hasher);
        let stripe = (hasher.finish() % self.gates.len() as u64) as usize;
        self.gates[stripe].lock().await
    }

    /// Sign-in outcomes counted since start, by (outcome, reason), for the metrics
    /// endpoint.
    pub fn outcome_counts(&self) -> Vec<((String, String), u64)> {
        self.outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Counts one outcome.
    pub(crate) fn count(&self, outcome: &str, reason: &str) {
        *self
            .outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((outcome.to_string(), reason.to_string()))
            .or_insert(0) += 1;
    }
}

/// Failure counts in fixed windows that several nodes share exactly (a cluster's
/// database): each call is one atomic step, so failures counted on any node at once all
/// count.
#[async_trait::async_trait]
pub trait SharedWindows: Send + Sync + 'static {
    /// Counts one failure of `key` in its window open at `now` (a new window starts at
    /// `now` if the last one began `window_secs` or more before); returns the window's start
    /// and count.
    async fn add_failure(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<(i64, u32), certmail_store::StoreError>;
    /// `key`'s window open at `now`, as (start, count); `None` if it has none.
    async fn window(
        &self,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<Option<(i64, u32)>, certmail_store::StoreError>;
}

/// Counts failed sign-ins per client address in fixed windows. IPv6 addresses count per
/// /64, since one host can use a whole /64. Counts are this process's unless the throttle
/// is [`IpThrottle::shared`]; the async methods ([`IpThrottle::blocked_for`],
/// [`IpThrottle::count_failure`]) serve both.
pub struct IpThrottle {
    limit: u32,
    window_secs: i64,
    counts: Mutex<HashMap<IpAddr, (i64, u32)>>,
    /// The shared counts and this throttle's name among them, in a cluster.
    shared: Option<(Arc<dyn SharedWindows>, &'static str)>,
}

impl std::fmt::Debug for IpThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpThrottle")
            .field("limit", &self.limit)
            .field("window_secs", &self.window_secs)
            .field("shared", &self.shared.as_ref().map(|(_, name)| name))
            .finish_non_exhaustive()
    }
}

/// Entries kept before expired windows are swept out.
const THROTTLE_SWEEP_AT: usize = 10_000;

impl IpThrottle {
    /// A throttle refusing an address after `limit` failures within `window_secs`;
    /// a `limit` of 0 turns it off.
    pub fn new(limit: u32, window_secs: u64) -> Self {
        Self {
            limit,
            window_secs: i64::try_from(window_secs.max(1)).unwrap_or(i64::MAX),
            counts: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// A throttle with this one's limits counting in `windows` (every node of a cluster),
    /// under `name` (one per throttle, e.g. "sign-in"), instead of in this process.
    pub fn shared(&self, windows: Arc<dyn SharedWindows>, name: &'static str) -> Self {
        Self {
            limit: self.limit,
            window_secs: self.window_secs,
            counts: Mutex::new(HashMap::new()),
            shared: Some((windows, name)),
        }
    }

    /// Seconds until `ip` may try again if it has reached the limit in its window, else
    /// `None`; from the shared counts when there are some.
    pub async fn blocked_for(
        &self,
        ip: IpAddr,
        now: i64,
    ) -> Result<Option<i64>, certmail_store::StoreError> {
        let Some((windows, name)) = &self.shared else {
            return Ok(self.is_blocked(ip, now).then(|| self.retry_after(ip, now)));
        };
        if self.limit == 0 {
            return Ok(None);
        }
        let key = format!("{name} {}", Self::key(ip));
        let window = windows.window(&key, now, self.window_secs).await?;
        Ok(window
            .filter(|&(start, n)| now - start < self.window_secs && n >= self.limit)
            .map(|(start, _)| (start + self.window_secs - now).max(1)))
    }

    /// Counts one failed sign-in from `ip`, in the shared counts when there are some.
    pub async fn count_failure(
        &self,
        ip: IpAddr,
        now: i64,
    ) -> Result<(), certmail_store::StoreError> {
        let Some((windows, name)) = &self.shared else {
            self.record_failure(ip, now);
            return Ok(());
        };
        if self.limit == 0 {
            return Ok(());
        }
        let key = format!("{name} {}", Self::key(ip));
        windows.add_failure(&key, now, self.window_secs).await?;
        Ok(())
    }

    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        }
    }

    /// Whether `ip` has reached the limit in its current window (this process's count).
    pub fn is_blocked(&self, ip: IpAddr, now: i64) -> bool {
        if self.limit == 0 {
            return false;
        }
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get(&Self::key(ip)) {
            Some(&(start, n)) => now - start < self.window_secs && n >= self.limit,
            None => false,
        }
    }

    /// Counts one failed sign-in from `ip` (in this process).
    pub fn record_failure(&self, ip: IpAddr, now: i64) {
        if self.limit == 0 {
            return;
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= THROTTLE_SWEEP_AT {
            let window = self.window_secs;
            counts.retain(|_, (start, _)| now - *start < window);
        }
        let entry = counts.entry(Self::key(ip)).or_insert((now, 0));
        if now - entry.0 >= self.window_secs {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Seconds until `ip`'s window ends (for the refusal sentence; this process's count).
    pub fn retry_after(&self, ip: IpAddr, now: i64) -> i64 {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .get(&Self::key(ip))
            .map(|&(start, _)| (start + self.window_secs - now).max(1))
            .unwrap_or(1)
    }
}

/// Rules a new password must follow (`[auth] password_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRules {
    /// Fewest characters.
    pub min_length: usize,
    /// Fewest character classes among lowercase (or uncased, like Hangul) letters,
    /// uppercase letters, digits and symbols.
    pub classes: usize,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            min_length: 10,
            classes: 3,
        }
    }
}

impl PasswordRules {
    /// How many of the classes (lowercase or uncased letters, uppercase letters, digits,
    /// symbols) `password` mixes.
    pub fn classes_in(password: &str) -> usize {
        [
            // Letters without case (Hangul) count with the lowercase ones.
            password
                .chars()
                .any(|c| c.is_lowercase() || (c.is_alphabetic() && !c.is_uppercase())),
            password.chars().any(|c| c.is_uppercase()),
            password.chars().any(|c| c.is_ascii_digit()),
            password.chars().any(|c| !c.is_alphanumeric()),
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }

    /// Why `password` is not acceptable for account `id`, as a sentence; `None` if it is.
    pub fn check(&self, id: &str, password: &str) -> Option<String> {
        let len = password.chars().count();
        if len < self.min_length {
            return Some(format!(
                "the password has {len} characters; use at least {}",
                self.min_length
            ));
        }
        let classes = Self::classes_in(password);
        if classes < self.classes {
            return Some(format!(
                "the password mixes {classes} kinds of character; use at least {} of lowercase letters, uppercase letters, digits and symbols",
                self.classes
            ));
        }
        if !id.is_empty() && password.to_lowercase().contains(&id.to_lowercase()) {
            return Some("the password must not contain the account id".to_string());
        }
        None
    }
}

/// An IPv4 or IPv6 network in CIDR notation (`10.1.0.0/16`, `2001:db8::/32`, or a bare
/// address for one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address.
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// The network with its host bits cleared (`10.1.0.5/16` → `10.1.0.0/16`); equal to
    /// `self` when it names a network as written.
    pub fn network(&self) -> Cidr {
        let keep = |octets: &mut [u8]| {
            for (i, o) in octets.iter_mut().enumerate() {
                let bits = usize::from(self.prefix).saturating_sub(i * 8).min(8);
                *o &= if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
            }
        };
        let addr = match self.addr {
            IpAddr::V4(a) => {
                let mut o = a.octets();
                keep(&mut o);
                IpAddr::from(o)
            }
            IpAddr::V6(a) => {
                let mut o = a.octets();
                keep(&mut o);
                IpAddr::from(o)
            }
        };
        Cidr { addr, ..*self }
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

/// The account setting holding its own allowed networks, space-separated CIDRs.
pub const NETWORKS_SETTING: &str = "networks";

/// Parses a list of CIDRs, or names the first that is not one.
pub fn parse_cidrs<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<Cidr>, String> {
    items
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Cidr::parse(s).ok_or_else(|| s.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_clears_the_host_bits() {
        let net = |s: &str| Cidr::parse(s).expect("parses").network().to_string();
        assert_eq!(net("10.1.0.5/16"), "10.1.0.0/16");
        assert_eq!(net("10.1.0.0/16"), "10.1.0.0/16");
        assert_eq!(net("192.0.2.7"), "192.0.2.7/32");
        assert_eq!(net("172.16.255.1/12"), "172.16.0.0/12");
        assert_eq!(net("2001:db8:1:2::1/64"), "2001:db8:1:2::/64");
        assert_eq!(net("10.9.9.9/0"), "0.0.0.0/0");
    }

    #[test]
    fn throttle_blocks_after_limit_within_window_and_forgets_after() {
        let t = IpThrottle::new(3, 60);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..2 {
            t.record_failure(ip, 1000);
        }
        assert!(!t.is_blocked(ip, 1001));
        t.record_failure(ip, 1002);
        assert!(t.is_blocked(ip, 1003));
        assert!(!t.is_blocked("192.0.2.8".parse().unwrap(), 1003));
        assert!(!t.is_blocked(ip, 1060), "the window has passed");
    }

    #[test]
    fn throttle_counts_ipv6_per_64() {
        let t = IpThrottle::new(2, 60);
        t.record_failure("2001:db8:1:2::1".parse().unwrap(), 0);
        t.record_failure("2001:db8:1:2::99".parse().unwrap(), 0);
        assert!(t.is_blocked("2001:db8:1:2:ffff::1".parse().unwrap(), 1));
        assert!(!t.is_blocked("2001:db8:1:3::1".parse().unwrap(), 1));
    }

    #[test]
    fn throttle_limit_zero_is_off() {
        let t = IpThrottle::new(0, 60);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        t.record_failure(ip, 0);
        assert!(!t.is_blocked(ip, 0));
    }

    #[test]
    fn password_rules_length_classes_and_id() {
        let r = PasswordRules::default();
        assert!(r.check("hong", "Short1!").unwrap().contains("at least 10"));
        assert!(r.check("hong", "alllowercase").unwrap().contains("kinds"));
        assert!(
            r.check("hong", "xHONGx12345!")
                .unwrap()
                .contains("account id")
        );
        assert_eq!(r.check("hong", "Correct-Horse-9"), None);
        assert_eq!(
            r.check("hong", "봄여름가을겨울1234!"),
            None,
            "Hangul counts as letters"
        );
    }

    #[test]
    fn cidr_contains() {
        let n = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        let h = Cidr::parse("127.0.0.2").unwrap();
        assert!(h.contains("127.0.0.2".parse().unwrap()));
        assert!(!h.contains("127.0.0.1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/33").unwrap();
        assert!(v6.contains("2001:db8:7fff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db8:8000::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
    }
}
