//! CPU time used by the local worker's `workerd` processes and by the benchmark client itself
//! (Linux `/proc`), so each phase can report CPU per request: unlike wall time, it barely moves
//! when other programs share the machine.

use std::collections::HashMap;
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: u64 = 100;

/// (pid, parent pid, command name, user + system ticks) of every process.
fn processes() -> Vec<(u32, u32, String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// (pid, parent pid, command name, user + system ticks) of one process, all its threads.
fn stat(pid: u32) -> Option<(u32, u32, String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ... utime(14) stime(15)": comm may hold spaces.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ppid = rest.get(1)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((pid, ppid, comm, utime + stime))
}

/// CPU time so far of the `workerd` processes descended from this process: the runtime that
/// runs the worker, its Durable Objects and local D1, and wrangler's proxy in front of it (the
/// one listening on the worker's public `port`; absent in production), and this client's own.
/// Zero without `/proc`.
#[derive(Clone, Copy, Default)]
pub struct Cpu {
    pub runtime: Duration,
    pub proxy: Duration,
    pub client: Duration,
}

impl Cpu {
    pub fn now(port: u16) -> Cpu {
        let procs = processes();
        let parent: HashMap<u32, u32> = procs.iter().map(|p| (p.0, p.1)).collect();
        let me = std::process::id();
        let ours = |mut pid: u32| {
            while let Some(&pp) = parent.get(&pid) {
                if pp == me {
                    return true;
                }
                if pp <= 1 {
                    return false;
                }
                pid = pp;
            }
            false
        };
        let entry = format!("entry=127.0.0.1:{port}\0");
        let ticks = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SEC);
        let mut cpu = Cpu::default();
        if let Some(me) = procs.iter().find(|p| p.0 == me) {
            cpu.client = ticks(me.3);
        }
        for p in procs.iter().filter(|p| p.2 == "workerd" && ours(p.0)) {
            let cmdline =
                std::fs::read_to_string(format!("/proc/{}/cmdline", p.0)).unwrap_or_default();
            let t = ticks(p.3);
            if cmdline.contains(&entry) {
                cpu.proxy += t;
            } else {
                cpu.runtime += t;
            }
        }
        cpu
    }

    /// Milliseconds per unit of `n`: (worker runtime, proxy, client).
    pub fn per(&self, n: u64) -> (f64, f64, f64) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / n.max(1) as f64;
        (ms(self.runtime), ms(self.proxy), ms(self.client))
    }

    /// CPU used since `earlier`.
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            runtime: self.runtime.saturating_sub(earlier.runtime),
            proxy: self.proxy.saturating_sub(earlier.proxy),
            client: self.client.saturating_sub(earlier.client),
        }
    }
}

/// CPU time so far of the local worker that `wrangler dev` serves on `port`, found by its
/// process tree rather than by descent from this process, so two workers started by one
/// benchmark (ours and the chat demo) are told apart: the proxy is the `workerd` listening on
/// `entry=127.0.0.1:{port}`, the runtime every other `workerd` with the same parent (the
/// wrangler process that started both). `client` is left zero.
pub fn of_worker(port: u16) -> Cpu {
    let procs = processes();
    let entry = format!("entry=127.0.0.1:{port}\0");
    let cmdline =
        |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let ticks = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SEC);
    let mut cpu = Cpu::default();
    let Some(proxy) = procs
        .iter()
        .find(|p| p.2 == "workerd" && cmdline(p.0).contains(&entry))
    else {
        return cpu;
    };
    cpu.proxy = ticks(proxy.3);
    for p in procs
        .iter()
        .filter(|p| p.2 == "workerd" && p.1 == proxy.1 && p.0 != proxy.0)
    {
        cpu.runtime += ticks(p.3);
    }
    cpu
}

/// CPU time so far of process `pid`, all its threads (zero once it is gone).
pub fn of_process(pid: u32) -> Duration {
    stat(pid).map_or(Duration::ZERO, |p| {
        Duration::from_millis(p.3 * 1000 / TICKS_PER_SEC)
    })
}

impl std::ops::AddAssign for Cpu {
    fn add_assign(&mut self, o: Cpu) {
        self.runtime += o.runtime;
        self.proxy += o.proxy;
        self.client += o.client;
    }
}

/// The whole machine's CPU counters, to tell how busy the neighbours were during a run: time
/// the cores were busy (`/proc/stat`, all processes) and time tasks waited for a core
/// (`/proc/pressure/cpu`, "some"). Zero where the kernel has neither.
#[derive(Clone, Copy, Default)]
pub struct Machine {
    pub busy: Duration,
    pub waited: Duration,
    pub at: Option<std::time::Instant>,
}

impl Machine {
    pub fn now() -> Machine {
        let busy = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                let line = s.lines().next()?.to_string();
                let f: Vec<u64> = line
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse().ok())
                    .collect();
                // user nice system idle iowait irq softirq steal
                let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?;
                Some(Duration::from_millis(busy * 1000 / TICKS_PER_SEC))
            })
            .unwrap_or_default();
        let waited = std::fs::read_to_string("/proc/pressure/cpu")
            .ok()
            .and_then(|s| {
                let some = s.lines().find(|l| l.starts_with("some"))?.to_string();
                let total = some
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix("total="))?;
                Some(Duration::from_micros(total.parse().ok()?))
            })
            .unwrap_or_default();
        Machine {
            busy,
            waited,
            at: Some(std::time::Instant::now()),
        }
    }

    /// Since `earlier`: (cores busy on average, share of the time some task waited for a core).
    pub fn since(&self, earlier: &Machine) -> (f64, f64) {
        let (Some(a), Some(b)) = (earlier.at, self.at) else {
            return (f64::NAN, f64::NAN);
        };
        let wall = b.duration_since(a).as_secs_f64().max(1e-3);
        (
            self.busy.saturating_sub(earlier.busy).as_secs_f64() / wall,
            self.waited.saturating_sub(earlier.waited).as_secs_f64() / wall,
        )
    }
}
