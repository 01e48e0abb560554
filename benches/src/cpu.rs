//! Server CPU time per run, children included: each server goes into its own cgroup-v1
//! `cpuacct` group (`/sys/fs/cgroup/cpuacct/pxe-bench-NAME`), so a forking server (tftpd-hpa
//! forks a child per transfer and lets the kernel reap it, so no `cutime` ever reaches its
//! `/proc` entry) is measured like a threaded one. Only the cpuacct hierarchy is touched; the
//! group is removed on drop. Where cpuacct is not available, [`CpuMeter::new`] returns `None`
//! and the harness prints no CPU column.

use std::io;
use std::path::PathBuf;

const ROOT: &str = "/sys/fs/cgroup/cpuacct";

/// One server's cpuacct group.
#[derive(Debug)]
pub struct CpuMeter {
    dir: PathBuf,
}

impl CpuMeter {
    /// Creates the group and moves `pid` (and so its future children) into it.
    pub fn new(name: &str, pid: u32) -> Option<CpuMeter> {
        let meter = CpuMeter::create(name)?;
        std::fs::write(meter.procs_file(), pid.to_string()).ok()?;
        Some(meter)
    }

    /// Creates the (empty) group. A server that forks its workers as soon as it starts
    /// (nginx) must enter the group before it execs, or early children escape the count:
    /// its launcher writes its own pid to [`CpuMeter::procs_file`] first.
    pub fn create(name: &str) -> Option<CpuMeter> {
        let dir = PathBuf::from(ROOT).join(format!("pxe-bench-{name}"));
        if !dir.exists() {
            std::fs::create_dir(&dir).ok()?;
        }
        Some(CpuMeter { dir })
    }

    /// The group's `cgroup.procs`: writing a pid there moves that process into the group.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// CPU time used by the group so far, nanoseconds.
    pub fn usage_ns(&self) -> io::Result<u64> {
        let text = std::fs::read_to_string(self.dir.join("cpuacct.usage"))?;
        text.trim()
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "cpuacct.usage"))
    }
}

impl Drop for CpuMeter {
    fn drop(&mut self) {
        // Any process still inside goes back to the root group, then the group goes away.
        if let Ok(pids) = std::fs::read_to_string(self.dir.join("cgroup.procs")) {
            for pid in pids.split_whitespace() {
                let _ = std::fs::write(PathBuf::from(ROOT).join("cgroup.procs"), pid);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}
