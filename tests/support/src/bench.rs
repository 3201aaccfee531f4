//! The Kafka benches' helpers: a tansu broker with in-memory storage, the
//! plugins built with the bench's profile, and CPU time from rusage.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An environment variable parsed as `T` (`_` separators allowed), or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// tansu's `--storage-engine`: `TANSU_STORAGE` (e.g. `sqlite://bench.db`,
/// relative to the bench's temporary directory), else `memory://tansu/`.
pub fn storage_engine() -> String {
    std::env::var("TANSU_STORAGE").unwrap_or_else(|_| "memory://tansu/".into())
}

/// A tansu broker with in-memory storage (fast; its high watermark is wrong
/// after batched produce, so benches count messages instead) on a free
/// loopback port, killed when dropped.
pub struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    /// Starts a broker, logging to `dir/tansu.log`.
    pub fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("tansu.log")).expect("log file");
        let child = Command::new(crate::tansu::binary())
            .current_dir(dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &storage_engine()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        let broker = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates a topic.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(crate::tansu::binary())
            .args(["topic", "create", name, "--partitions"])
            .arg(partitions.to_string())
            .arg("--broker")
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "creating topic {name} failed");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the plugin crates `(package, library stem)` with this bench's
/// profile and copies them into `dir`; false when the build failed.
pub fn build_plugins(dir: &Path, plugins: &[(&str, &str)]) -> bool {
    let profile_dir = crate::plugins::profile_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("workspace root");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("target dir"));
    if !profile_dir.ends_with("debug") {
        cmd.arg("--release");
    }
    for (package, _) in plugins {
        cmd.args(["-p", package]);
    }
    if !cmd.status().is_ok_and(|s| s.success()) {
        return false;
    }
    for (_, stem) in plugins {
        let file = crate::plugins::library_file(stem);
        std::fs::copy(profile_dir.join(&file), dir.join(&file)).expect("copy plugin");
    }
    true
}

/// The `simple` plugin crate.
pub const SIMPLE: (&str, &str) = ("topictable-plugin-simple", "topictable_plugin_simple");
/// The `json` plugin crate.
pub const JSON: (&str, &str) = ("topictable-plugin-json", "topictable_plugin_json");

/// User + system CPU seconds of `who` (`libc::RUSAGE_SELF` or `RUSAGE_CHILDREN`).
pub fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `ru` outlives the call.
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// This process's CPU seconds so far.
pub fn cpu_self() -> f64 {
    rusage_secs(libc::RUSAGE_SELF)
}

/// CPU seconds each thread of this process has used so far, summed by
/// thread name, with librdkafka's `rdk:*` threads as one (`librdkafka`).
pub fn thread_cpu() -> std::collections::BTreeMap<String, f64> {
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "tid (name) state ppid … utime stime …": the name may hold spaces.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        let secs =
            (utime.parse::<f64>().unwrap_or(0.0) + stime.parse::<f64>().unwrap_or(0.0)) / ticks;
        let name = if name.starts_with("rdk:") {
            "librdkafka"
        } else {
            name
        };
        *out.entry(name.to_string()).or_insert(0.0) += secs;
    }
    out
}

/// This process's resident set size in bytes (`VmRSS` of /proc/self/status).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The `avro` plugin crate.
pub const AVRO: (&str, &str) = ("topictable-plugin-avro", "topictable_plugin_avro");
/// The `protobuf` plugin crate.
pub const PROTOBUF: (&str, &str) = ("topictable-plugin-protobuf", "topictable_plugin_protobuf");

/// A producer context counting delivered and failed messages.
#[derive(Default)]
pub struct Deliveries {
    /// Messages the broker acknowledged.
    pub ok: std::sync::atomic::AtomicU64,
    /// Messages that failed.
    pub failed: std::sync::atomic::AtomicU64,
}

impl rdkafka::ClientContext for Deliveries {}

impl rdkafka::producer::ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        use std::sync::atomic::Ordering::Relaxed;
        match result {
            Ok(_) => self.ok.fetch_add(1, Relaxed),
            Err(_) => self.failed.fetch_add(1, Relaxed),
        };
    }
}
