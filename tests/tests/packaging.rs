//! What the README's install section says is what ships: its `install` lines are run as
//! written into a fresh directory standing for `/`, then systemd's own tools (which the
//! operator runs next) create the user and directories there, and `systemd-analyze verify`
//! reads the units. `systemctl reload` must go through `certmail reload`, which waits for
//! the daemon's answer and fails on a broken configuration.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

fn certmail_bin() -> PathBuf {
    std::env::var_os("CERTMAIL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug/certmail"))
}

/// The shell commands of the README's install-by-hand block: the ```sh block under
/// "### Install" that installs the files.
fn readme_install_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let section = readme
        .split("### Install")
        .nth(1)
        .expect("README.md has an Install section");
    let block = section
        .split("```sh")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("install -D"))
        .expect("the Install section has a sh block of install lines");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn readme_install_section_works_in_a_fresh_root() {
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    let commands = readme_install_commands();
    let mut installed = 0;
    for line in &commands {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            Some(&"install") => {
                // install -DmMODE SOURCE DEST, with DEST moved under the fresh root.
                assert_eq!(words.len(), 4, "unexpected install line: {line}");
                let dest = r.join(words[3].trim_start_matches('/'));
                let (ok, out) = run(Command::new("install")
                    .arg(words[1])
                    .arg(repo_root().join(words[2]))
                    .arg(&dest));
                assert!(ok, "{line}: {out}");
                let want = u32::from_str_radix(words[1].trim_start_matches("-Dm"), 8)
                    .expect("an octal mode");
                assert_eq!(mode(&dest), want, "{line}");
                installed += 1;
            }
            Some(&"systemd-sysusers") => {
                // `systemd-sysusers && systemd-tmpfiles --create`, against the fresh root.
                assert!(line.contains("systemd-tmpfiles --create"), "{line}");
                std::fs::create_dir_all(r.join("etc")).expect("etc");
                let (ok, out) =
                    run(Command::new("systemd-sysusers").arg(format!("--root={}", r.display())));
                assert!(ok, "systemd-sysusers: {out}");
                let (ok, out) = run(Command::new("systemd-tmpfiles")
                    .arg(format!("--root={}", r.display()))
                    .arg("--create"));
                assert!(ok, "systemd-tmpfiles: {out}");
            }
            _ => panic!("the test does not know this install step: {line}"),
        }
    }
    assert_eq!(installed, 4, "{commands:?}");

    // The user exists, and the directories the daemon and the docs name are there, as
    // private as the docs say.
    let passwd = std::fs::read_to_string(r.join("etc/passwd")).expect("etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("certmail:"))
        .unwrap_or_else(|| panic!("no certmail user in {passwd}"));
    let uid: u32 = line.split(':').nth(2).expect("uid").parse().expect("uid");
    assert!(
        line.ends_with(":/var/lib/certmail:/usr/sbin/nologin"),
        "a system user without a login shell, at home in the data directory: {line}"
    );
    assert_eq!(mode(&r.join("var/lib/certmail")), 0o700);
    assert_eq!(
        std::fs::metadata(r.join("var/lib/certmail"))
            .expect("data dir")
            .uid(),
        uid,
        "the data directory belongs to the certmail user"
    );
    for (dir, want) in [
        ("etc/certmail/certs", 0o755),
        ("etc/certmail/crl", 0o755),
        ("etc/certmail/tls", 0o750),
    ] {
        assert_eq!(mode(&r.join(dir)), want, "{dir}");
    }
    // The configuration holds secrets' paths and policy: not world-readable, but readable
    // by the daemon, which runs as the certmail user.
    let config = r.join("etc/certmail/certmail.toml");
    assert_eq!(mode(&config), 0o640);
    let gid: u32 = line.split(':').nth(3).expect("gid").parse().expect("gid");
    let meta = std::fs::metadata(&config).expect("config");
    assert_eq!((meta.uid(), meta.gid()), (0, gid), "root:certmail");
}

#[test]
fn units_verify_and_reload_goes_through_certmail_reload() {
    let bin = certmail_bin();
    assert!(bin.exists(), "build the daemon first: {}", bin.display());
    let dir = tempfile::tempdir().expect("temp dir");
    for unit in [
        "certmail.service",
        "certmail-crl-fetch.service",
        "certmail-crl-fetch.timer",
    ] {
        let text = std::fs::read_to_string(repo_root().join("conf").join(unit)).expect("unit");
        if unit == "certmail.service" {
            let reload: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("ExecReload="))
                .collect();
            assert_eq!(
                reload,
                ["ExecReload=/usr/bin/certmail reload --config /etc/certmail/certmail.toml"],
                "systemctl reload must wait for the daemon's answer and report a broken config"
            );
        }
        // verify checks that every Exec binary exists: point them at the one just built.
        let text = text.replace("/usr/bin/certmail", bin.to_str().expect("utf-8 path"));
        std::fs::write(dir.path().join(unit), text).expect("write unit");
    }
    for unit in ["certmail.service", "certmail-crl-fetch.service"] {
        let (ok, out) = run(Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.path().join(unit)));
        // Unknown keys and bad values are only warnings: none may appear.
        assert!(ok && out.trim().is_empty(), "{unit}: {out}");
    }
}
