//! What /proc tells about the daemon under test.

/// The resident memory of process `pid` in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("bad VmRSS line {line}"))?
        .parse()?)
}

/// Fails unless process `pid` holds less than `before_kib` + `growth_kib` of resident
/// memory now.
pub fn ensure_rss_within(pid: u32, before_kib: u64, growth_kib: u64) -> anyhow::Result<()> {
    let after = rss_kib(pid)?;
    anyhow::ensure!(
        after < before_kib + growth_kib,
        "RSS grew from {before_kib} KiB to {after} KiB (bound: {growth_kib} KiB more)"
    );
    Ok(())
}
