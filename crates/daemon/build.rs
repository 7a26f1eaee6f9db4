//! Sets `CERTMAIL_COMMIT` for `certmail_build_info{commit}` (`/metrics`) and `--version`:
//! the git commit this crate is built from, or `unknown` when it is built outside a git
//! checkout (a source tarball, the .deb's source package) or git is missing. A value
//! already in the environment (a packager's) wins.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CERTMAIL_COMMIT");
    let commit = std::env::var("CERTMAIL_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=CERTMAIL_COMMIT={commit}");
}

/// `git rev-parse --short=12 HEAD`, re-run when HEAD or the branch it names moves.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status.success().then_some(())?;
        Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
    };
    let head = PathBuf::from(git(&[
        "rev-parse",
        "--path-format=absolute",
        "--git-path",
        "HEAD",
    ])?);
    watch(&head);
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let common = PathBuf::from(git(&[
            "rev-parse",
            "--path-format=absolute",
            "--git-common-dir",
        ])?);
        watch(&common.join(&branch));
        watch(&common.join("packed-refs"));
    }
    git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())
}

/// Re-runs this script when `path` changes (only for files that exist: cargo re-runs on
/// every build for a missing one).
fn watch(path: &std::path::Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
