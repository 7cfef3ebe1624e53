//! The machine a bench ran on, for the report: CPU, cores, memory, kernel, tool versions.

use std::{fs, process::Command};

use xtask::cmd;

/// Lines describing this machine and the tool versions, for the report.
pub fn machine() -> Vec<String> {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let kib: u64 = info
                .lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "?".to_owned());
    let version = |program: &str, arg: &str| {
        cmd::capture(Command::new(program).arg(arg))
            .and_then(|out| out.lines().next().map(str::to_owned))
            .unwrap_or_else(|| format!("{program}: unknown"))
    };
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let date =
        cmd::capture(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    vec![
        format!("date: {date}"),
        format!("CPU: {cpu}, {cores} cores available to this run; memory {memory}"),
        format!(
            "Linux {kernel}; {}; node {}",
            version("rustc", "--version"),
            version("node", "--version")
        ),
        "load: shared machine, other jobs may run; numbers are for comparison within one run"
            .to_owned(),
    ]
}
