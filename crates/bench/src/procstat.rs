//! What Linux's /proc says: a process's peak resident memory, CPU time and disk writes,
//! a process tree's CPU time and disk writes (PostgreSQL's server and its children), and
//! the file system a path lives on.

use std::time::Duration;

use anyhow::Context as _;

/// A process's resource use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Peak resident set size so far (VmHWM), bytes.
    pub peak_rss: u64,
    /// Current resident set size (VmRSS), bytes.
    pub rss: u64,
    /// User plus system CPU time so far.
    pub cpu: Duration,
    /// Bytes the process caused to be sent to storage (`write_bytes` of /proc/<pid>/io),
    /// when the kernel lets us read it.
    pub disk_writes: Option<u64>,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/stat`; `pid` None means this process.
pub fn read(pid: Option<u32>) -> anyhow::Result<ProcStat> {
    let dir = match pid {
        Some(p) => format!("/proc/{p}"),
        None => "/proc/self".to_owned(),
    };
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .with_context(|| format!("reading {dir}/status"))?;
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .with_context(|| format!("reading {dir}/stat"))?;
    let ticks = cpu_ticks(&stat).with_context(|| format!("parsing {dir}/stat"))?;
    Ok(ProcStat {
        peak_rss: status_kb(&status, "VmHWM:")
            .with_context(|| format!("no VmHWM in {dir}/status"))?
            * 1024,
        rss: status_kb(&status, "VmRSS:").with_context(|| format!("no VmRSS in {dir}/status"))?
            * 1024,
        cpu: ticks_to_duration(ticks, clock_ticks_per_second()),
        disk_writes: std::fs::read_to_string(format!("{dir}/io"))
            .ok()
            .and_then(|io| io_field(&io, "write_bytes:")),
    })
}

/// A process and its children at one moment, e.g. PostgreSQL's postmaster and the
/// backends, WAL writer and checkpointer it forked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStat {
    /// utime+stime of the parent and of every living child, plus the parent's cutime+cstime
    /// (the CPU of children it has already reaped, e.g. closed connections' backends).
    pub cpu: Duration,
    /// `write_bytes` of the parent and its living children (a reaped child's writes are
    /// not added to its parent's by Linux, so these can only be undercounted).
    pub disk_writes: u64,
}

impl TreeStat {
    /// What was spent between `before` and `self`.
    pub fn since(&self, before: &TreeStat) -> TreeStat {
        TreeStat {
            cpu: self.cpu.saturating_sub(before.cpu),
            disk_writes: self.disk_writes.saturating_sub(before.disk_writes),
        }
    }
}

/// The CPU and disk writes of process `parent` and of its children (one level: the
/// postmaster forks every server process directly), read from every /proc/<pid>/stat.
pub fn tree(parent: u32) -> anyhow::Result<TreeStat> {
    let hz = clock_ticks_per_second();
    let own = std::fs::read_to_string(format!("/proc/{parent}/stat"))
        .with_context(|| format!("reading /proc/{parent}/stat (has the process exited?)"))?;
    let fields = stat_fields(&own).with_context(|| format!("parsing /proc/{parent}/stat"))?;
    let mut ticks = fields.cpu + fields.reaped_children_cpu;
    let mut disk_writes = io_write_bytes(parent);
    for entry in std::fs::read_dir("/proc").context("reading /proc")? {
        let Some(pid) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit between the listing and the read: skip it.
        let Some(child) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| stat_fields(&s))
        else {
            continue;
        };
        if child.ppid == parent {
            ticks += child.cpu;
            disk_writes += io_write_bytes(pid);
        }
    }
    Ok(TreeStat {
        cpu: ticks_to_duration(ticks, hz),
        disk_writes,
    })
}

fn io_write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| io_field(&io, "write_bytes:"))
        .unwrap_or(0)
}

/// The fields of /proc/<pid>/stat that [`tree`] adds up, in clock ticks.
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    /// Field 4.
    ppid: u32,
    /// utime + stime (fields 14 and 15).
    cpu: u64,
    /// cutime + cstime (fields 16 and 17): children waited for.
    reaped_children_cpu: u64,
}

fn stat_fields(stat: &str) -> Option<StatFields> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field N is at index N - 3.
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    Some(StatFields {
        ppid: fields.get(4 - 3)?.parse().ok()?,
        cpu: field(14)? + field(15)?,
        reaped_children_cpu: field(16)? + field(17)?,
    })
}

/// The machine's 1-minute load average (/proc/loadavg).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A `key: value` line of /proc/<pid>/io.
fn io_field(io: &str, key: &str) -> Option<u64> {
    io.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// The file system type and source (device) holding `path`, from /proc/self/mountinfo:
/// the mount whose mount point is the longest prefix of the canonical path.
pub fn filesystem_of(path: &std::path::Path) -> Option<(String, String)> {
    let path = std::fs::canonicalize(path).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_of(&info, &path)
}

fn mount_of(mountinfo: &str, path: &std::path::Path) -> Option<(String, String)> {
    mountinfo
        .lines()
        .filter_map(|line| {
            // proc(5): id parent major:minor root mount-point options [tags] - fstype source …
            let fields: Vec<&str> = line.split(' ').collect();
            let mount_point = fields.get(4)?;
            let dash = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(dash + 1)?;
            let source = fields.get(dash + 2)?;
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), fstype.to_string(), source.to_string()))
        })
        .max_by_key(|(len, _, _)| *len)
        .map(|(_, fstype, source)| (fstype, source))
}

/// A `Key:   1234 kB` value of /proc/<pid>/status, in kB.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut parts = line[key.len()..].split_whitespace();
    let value = parts.next()?.parse().ok()?;
    (parts.next() == Some("kB")).then_some(value)
}

/// utime + stime (fields 14 and 15 of proc(5)), in clock ticks. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    stat_fields(stat).map(|f| f.cpu)
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

/// USER_HZ from `getconf CLK_TCK`; 100, its value on every Linux architecture in use, if
/// that fails.
fn clock_ticks_per_second() -> u64 {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&hz| hz > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_memory_lines() {
        let status =
            "Name:\tcertmail\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(status_kb(status, "VmHWM:"), Some(51234));
        assert_eq!(status_kb(status, "VmRSS:"), Some(40000));
        assert_eq!(status_kb(status, "VmSwap:"), None);
    }

    #[test]
    fn parses_cpu_ticks_even_with_odd_command_names() {
        let stat = "4242 (cert mail) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 1000000 500";
        assert_eq!(cpu_ticks(stat), Some(325));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn parses_io_and_mountinfo() {
        let io = "rchar: 100\nwchar: 200\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 40960\n";
        assert_eq!(io_field(io, "write_bytes:"), Some(40960));
        let mountinfo = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                         30 22 0:26 / /dev/shm rw,nosuid shared:2 - tmpfs tmpfs rw\n";
        let on = |p: &str| mount_of(mountinfo, std::path::Path::new(p));
        assert_eq!(on("/dev/shm/x"), Some(("tmpfs".into(), "tmpfs".into())));
        assert_eq!(
            on("/tmp/certmail"),
            Some(("ext4".into(), "/dev/vda".into()))
        );
        assert_eq!(on("/dev/shmem"), Some(("ext4".into(), "/dev/vda".into())));
    }

    #[test]
    fn parses_parent_and_reaped_children_cpu() {
        let stat =
            "501 (postgres) S 77 501 501 0 -1 4194560 10 0 0 0 120 30 400 100 20 0 1 0 9 1000 50";
        assert_eq!(
            stat_fields(stat),
            Some(StatFields {
                ppid: 77,
                cpu: 150,
                reaped_children_cpu: 500
            })
        );
        assert_eq!(stat_fields("501 (postgres) S 77 501"), None);
    }

    #[test]
    fn tree_counts_this_process_and_since_subtracts() {
        // This test process's own CPU so far is counted (it only grows).
        let own = read(None).expect("self").cpu;
        let now = tree(std::process::id()).expect("/proc is readable");
        assert!(now.cpu >= own, "{now:?} < {own:?}");
        let later = TreeStat {
            cpu: now.cpu + Duration::from_millis(250),
            disk_writes: now.disk_writes + 4096,
        };
        assert_eq!(
            later.since(&now),
            TreeStat {
                cpu: Duration::from_millis(250),
                disk_writes: 4096
            }
        );
        assert_eq!(now.since(&later), TreeStat::default());
    }

    #[test]
    fn converts_ticks() {
        assert_eq!(ticks_to_duration(325, 100), Duration::from_millis(3250));
    }

    #[test]
    fn reads_this_process() {
        let me = read(None).expect("/proc/self is readable on Linux");
        assert!(me.peak_rss >= me.rss && me.rss > 0);
    }
}
