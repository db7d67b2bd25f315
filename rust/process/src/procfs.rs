//! The process table as Linux's `/proc` shows it: one process's
//! `/proc/<pid>/stat`, its command line, and whether a process or a whole
//! process group still lives. Processes come and go while they are read,
//! so every read may find nothing; that is `None` or `false`, never an error.

use std::fs;

/// The fields of `/proc/<pid>/stat` (proc(5)) that sfcrime uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The executable's name (at most 15 bytes), e.g. `java`.
    pub comm: String,
    /// `R` running, `S` sleeping, `Z` zombie, `X` dead, ...
    pub state: char,
    pub ppid: u32,
    /// The process group.
    pub pgid: u32,
    /// CPU time used, user plus system, in clock ticks
    /// ([`clock_ticks_per_second`]).
    pub cpu_ticks: u64,
}

/// `/proc/<pid>/stat`, if that process exists.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses,
/// so the fields after it are found from its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // Fields 3.. of proc(5): state ppid pgrp session tty_nr tpgid flags
    // minflt cminflt majflt cmajflt utime stime.
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().take(13).collect();
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        comm,
        state: fields.first()?.chars().next()?,
        ppid: u32::try_from(number(1)?).ok()?,
        pgid: u32::try_from(number(2)?).ok()?,
        cpu_ticks: number(11)? + number(12)?,
    })
}

/// A `Key:   123 kB` field of `/proc/<pid>/status` (e.g. `VmHWM:`,
/// `VmRSS:`), in KiB, if that process and field exist.
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    parse_status_kib(
        &fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        key,
    )
}

/// The `Key:   123 kB` line of a `/proc/<pid>/status` text, in KiB.
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second, the unit of [`Stat::cpu_ticks`].
pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// Every pid in `/proc` now.
pub fn pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Some thread of the process still runs. A JVM's main thread can end
/// before its last threads do: the process then shows as a zombie while it
/// still holds its ports, so a zombie only counts as gone (waiting to be
/// reaped) once no other thread is left.
pub fn is_alive(pid: u32) -> bool {
    match stat(pid) {
        Some(s) if s.state == 'Z' || s.state == 'X' => {
            fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|threads| threads.count() > 1)
        }
        Some(_) => true,
        None => false,
    }
}

/// Some live process is in process group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    pids()
        .into_iter()
        .any(|pid| stat(pid).is_some_and(|s| s.pgid == pgid) && is_alive(pid))
}

/// The process's command line (`/proc/<pid>/cmdline`) has `arg` as one of
/// its arguments, e.g. a JVM its main class.
pub fn runs_arg(pid: u32, arg: &str) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_in_kib() {
        let status = "Name:\tjava\nVmPeak:\t 5000 kB\nVmHWM:\t  812345 kB\nVmRSS:\t 700000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(812_345));
        assert_eq!(parse_status_kib(status, "VmRSS:"), Some(700_000));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn stat_lines_with_odd_command_names() {
        let s =
            parse_stat("4242 (java) S 4200 4100 4100 0 -1 4194560 9 0 0 0 1500 250 0 0").unwrap();
        assert_eq!(
            s,
            Stat {
                comm: "java".into(),
                state: 'S',
                ppid: 4200,
                pgid: 4100,
                cpu_ticks: 1750
            }
        );
        let s = parse_stat("7 (a) b) R 1 99 99 0 -1 0 0 0 0 0 3 4 5").unwrap();
        assert_eq!((s.comm.as_str(), s.pgid, s.cpu_ticks), ("a) b", 99, 7));
        assert!(parse_stat("7 (short) R 1 99").is_none());
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn this_process_reads_as_itself() {
        let me = stat(std::process::id()).unwrap();
        // SAFETY: getppid(2) and getpgrp(2) cannot fail and touch no memory.
        let (ppid, pgid) = unsafe { (libc::getppid(), libc::getpgrp()) };
        // Alive: running, sleeping, or in a disk wait ('D', as a make test
        // under load once caught it); never a zombie or dead.
        assert!(!matches!(me.state, 'Z' | 'X'), "{me:?}");
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(&me.comm), "{me:?}");
        assert_eq!(me.ppid, ppid as u32);
        assert_eq!(me.pgid, pgid as u32);
        assert!(is_alive(std::process::id()));
        assert!(group_alive(pgid as u32));
        assert!(pids().contains(&std::process::id()));
        let arg0 = std::env::args().next().unwrap();
        assert!(runs_arg(std::process::id(), &arg0));
        assert!(!runs_arg(std::process::id(), "no-such-argument"));
    }

    #[test]
    fn a_reaped_child_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid));
        assert!(stat(pid).is_none());
    }
}
