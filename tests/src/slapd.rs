//! A throw-away OpenLDAP server (`slapd`, Debian packages `slapd` and `ldap-utils`) on
//! 127.0.0.1 holding CRLs the way the GPKI/EPKI directories do: entries of object class
//! `cRLDistributionPoint` (core.schema) with a `certificateRevocationList;binary` value.
//!
//! slapd cannot report a port the OS chose (it takes port 0 as "the default, 389"), so the
//! helper asks the OS for a free port, hands it to slapd and retries on the rare clash.
//! Readiness is probed by connecting, within a deadline. The server is killed on drop.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory suffix; every GPKI DN ends in `c=KR`.
const SUFFIX: &str = "c=KR";
const ROOT_DN: &str = "cn=admin,c=KR";
const ROOT_PW: &str = "test-only-slapd";

/// A running slapd, killed when dropped.
pub struct Slapd {
    child: Child,
    /// The port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Slapd {
    /// Whether slapd, slapadd and ldapmodify are installed (scripts/test installs them).
    pub fn installed() -> bool {
        ["slapd", "slapadd", "ldapmodify"]
            .iter()
            .all(|tool| find_tool(tool).is_some())
    }

    /// Starts slapd on 127.0.0.1 with an mdb database under `dir`, holding the GPKI tree
    /// down to `crl_dn`, whose `certificateRevocationList;binary` is `crl`.
    pub fn start(dir: &Path, crl_dn: &str, crl: &[u8]) -> anyhow::Result<Slapd> {
        anyhow::ensure!(
            Slapd::installed(),
            "slapd/ldap-utils are missing: scripts/test installs them (apt-get install slapd ldap-utils)"
        );
        let db = dir.join("db");
        std::fs::create_dir_all(&db)?;
        let conf = dir.join("slapd.conf");
        std::fs::write(&conf, config(dir, &db))?;
        let ldif = dir.join("data.ldif");
        std::fs::write(&ldif, tree_ldif(crl_dn, crl))?;
        let out = Command::new(tool("slapadd")?)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = certmail_testkit::ports::free_port()?;
            let log = std::fs::File::create(dir.join("slapd.log"))?;
            let mut child = Command::new(tool("slapd")?)
                .arg("-d")
                .arg("0")
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(format!("ldap://127.0.0.1:{port}/"))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?;
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Ok(Slapd {
                        child,
                        port,
                        dir: dir.to_owned(),
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!(
                        "{e}; slapd said: {}",
                        std::fs::read_to_string(dir.join("slapd.log")).unwrap_or_default()
                    );
                }
            }
        }
        anyhow::bail!("slapd did not start: {last_error}")
    }

    /// Replaces the CRL held at `dn` (as the CA's publisher would), with ldapmodify.
    pub fn replace_crl(&self, dn: &str, crl: &[u8]) -> anyhow::Result<()> {
        use base64::Engine as _;
        let ldif = format!(
            "dn: {dn}\nchangetype: modify\nreplace: certificateRevocationList;binary\ncertificateRevocationList;binary:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(crl)
        );
        let path = self.dir.join("modify.ldif");
        std::fs::write(&path, ldif)?;
        let out = Command::new(tool("ldapmodify")?)
            .args(["-x", "-H"])
            .arg(format!("ldap://127.0.0.1:{}", self.port))
            .args(["-D", ROOT_DN, "-w", ROOT_PW, "-f"])
            .arg(&path)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "ldapmodify failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal slapd.conf: core.schema (cRLDistributionPoint), one mdb database, anonymous
/// read (as the public GPKI directories allow).
fn config(dir: &Path, db: &Path) -> String {
    let module_path = ["/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap"]
        .into_iter()
        .find(|p| {
            Path::new(p).join("back_mdb.la").exists() || Path::new(p).join("back_mdb.so").exists()
        });
    let modules = match module_path {
        Some(p) => format!("modulepath {p}\nmoduleload back_mdb\n"),
        None => String::new(),
    };
    format!(
        "include /etc/ldap/schema/core.schema\n{modules}pidfile {pid}\nargsfile {args}\n\
         database mdb\nsuffix \"{SUFFIX}\"\nrootdn \"{ROOT_DN}\"\nrootpw {ROOT_PW}\n\
         directory {db}\nmaxsize 10485760\naccess to * by * read\n",
        pid = dir.join("slapd.pid").display(),
        args = dir.join("slapd.args").display(),
        db = db.display(),
    )
}

/// The LDIF of every entry from `c=KR` down to `crl_dn`: the parents as the object class
/// their RDN needs, the CRL entry as a `cRLDistributionPoint` holding the CRL.
fn tree_ldif(crl_dn: &str, crl: &[u8]) -> String {
    use base64::Engine as _;
    let rdns: Vec<&str> = crl_dn.split(',').map(str::trim).collect();
    let mut out = String::new();
    for depth in (0..rdns.len()).rev() {
        let dn = rdns[depth..].join(",");
        let (attr, value) = rdns[depth].split_once('=').unwrap_or(("cn", rdns[depth]));
        let class = match attr.to_ascii_lowercase().as_str() {
            "c" => "country",
            "o" => "organization",
            "ou" => "organizationalUnit",
            _ => "cRLDistributionPoint",
        };
        let _ = writeln!(out, "dn: {dn}\nobjectClass: {class}\n{attr}: {value}");
        if depth == 0 {
            let _ = writeln!(
                out,
                "certificateRevocationList;binary:: {}",
                base64::engine::general_purpose::STANDARD.encode(crl)
            );
        }
        out.push('\n');
    }
    out
}

/// Waits (up to 20 s) until slapd accepts connections on `port`; fails at once if it exits.
fn wait_ready(child: &mut Child, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("slapd exited ({status})");
        }
        if std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(200),
        )
        .is_ok()
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "slapd is not listening on {port} after 20 s"
        );
        // A readiness probe, not synchronisation: slapd has no way to say it is ready.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The path of an OpenLDAP tool (slapd lives in /usr/sbin, which a user's PATH may lack).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn tool(name: &str) -> anyhow::Result<PathBuf> {
    find_tool(name).ok_or_else(|| anyhow::anyhow!("{name} is not installed"))
}
