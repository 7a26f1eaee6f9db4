//! A Knot DNS server (Debian's `knot` package) on 127.0.0.1 serving test zones, signed
//! with DNSSEC where asked (knot's automatic signing, one ECDSA P-256 CSK per zone), for
//! the relay's DANE and TLS-RPT tests. No test touches the internet.
//!
//! Started per test in a temporary directory, stopped by its pid when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// One zone: its name (without the final dot), its records in zone-file syntax (after
/// the SOA and NS, which are added) and whether knot signs it.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The zone's name, e.g. `dane.test`.
    pub name: String,
    /// Resource records, one per line, names relative to the zone.
    pub records: String,
    /// Sign the zone (DNSSEC).
    pub signed: bool,
}

/// A running knotd.
#[derive(Debug)]
pub struct Knot {
    /// Where it answers, UDP and TCP.
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Child,
}

impl Knot {
    /// Starts knotd serving `zones` and waits until each one answers (signed where asked).
    pub fn start(zones: &[Zone]) -> anyhow::Result<Knot> {
        let dir = tempfile::tempdir()?;
        let port = crate::ports::free_port()?;
        let conf = config(dir.path(), port, zones);
        std::fs::write(dir.path().join("knot.conf"), conf)?;
        for zone in zones {
            let text = format!(
                "$TTL 300\n@ SOA ns.{n}. hostmaster.{n}. 1 3600 600 86400 300\n@ NS ns.{n}.\nns A 127.0.0.1\n{}\n",
                zone.records,
                n = zone.name
            );
            std::fs::write(dir.path().join(format!("{}.zone", zone.name)), text)?;
        }
        let log = std::fs::File::create(dir.path().join("knotd.log"))?;
        let child = Command::new(sbin("knotd"))
            .arg("-c")
            .arg(dir.path().join("knot.conf"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting knotd (Debian package `knot`)")?;
        let knot = Knot {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
            child,
        };
        for zone in zones {
            knot.wait_for(zone)?;
        }
        Ok(knot)
    }

    /// knotc with this server's configuration.
    fn knotc(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(sbin("knotc"))
            .arg("-c")
            .arg(self.conf())
            .args(args)
            .stderr(Stdio::null())
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("knot.conf")
    }

    fn wait_for(&self, zone: &Zone) -> anyhow::Result<()> {
        let name = format!("{}.", zone.name);
        let kind = if zone.signed { "RRSIG" } else { "SOA" };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.knotc(&["zone-read", &name, "@", kind])?.contains(kind) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.path().join("knotd.log")).unwrap_or_default();
        bail!("knotd did not serve {name} within 15 s: {log}")
    }

    /// The zone's DNSKEY records (its KSK), in zone-file syntax: a trust anchor file.
    pub fn trust_anchor(&self, zone: &str) -> anyhow::Result<String> {
        let out = Command::new(sbin("keymgr"))
            .arg("-c")
            .arg(self.conf())
            .args([&format!("{zone}."), "dnskey"])
            .output()?;
        let text = String::from_utf8(out.stdout)?;
        anyhow::ensure!(text.contains("DNSKEY 257"), "no KSK of {zone}: {text}");
        // keymgr leaves out the TTL and class, which trust anchor files (hickory's) carry.
        Ok(text.replace(" DNSKEY ", " 300 IN DNSKEY "))
    }

    /// Writes [`Knot::trust_anchor`] of `zone` to a file in the server's directory.
    pub fn trust_anchor_file(&self, zone: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join(format!("{zone}.anchor"));
        std::fs::write(&path, self.trust_anchor(zone)?)?;
        Ok(path)
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Knot's tools live in /usr/sbin, which an unprivileged user's PATH may lack.
fn sbin(tool: &str) -> PathBuf {
    let path = Path::new("/usr/sbin").join(tool);
    if path.exists() {
        path
    } else {
        PathBuf::from(tool)
    }
}

fn config(dir: &Path, port: u16, zones: &[Zone]) -> String {
    let d = dir.display();
    let mut conf = format!(
        "server:\n    listen: 127.0.0.1@{port}\n    rundir: {d}\ndatabase:\n    storage: {d}\n\
         policy:\n  - id: csk\n    algorithm: ecdsap256sha256\n    single-type-signing: on\n\
         template:\n  - id: default\n    storage: {d}\n    zonefile-sync: -1\nzone:\n"
    );
    for zone in zones {
        conf.push_str(&format!(
            "  - domain: {n}.\n    file: {n}.zone\n",
            n = zone.name
        ));
        if zone.signed {
            conf.push_str("    dnssec-signing: on\n    dnssec-policy: csk\n");
        }
    }
    conf
}
