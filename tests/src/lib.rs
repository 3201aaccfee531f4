//! Harness for the end-to-end tests: a real tansu broker on a free loopback
//! port, the first-party plugins built and laid out in a plugin directory, a
//! plain rdkafka producer, and the Python client (confluent-kafka).
#![allow(clippy::missing_panics_doc)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use topictable::PluginRegistry;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub mod tls;

/// A tansu broker with durable sqlite storage, killed when dropped.
pub struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Started with `--authentication`: clients must log in with SASL/SCRAM.
    authentication: bool,
    /// What it tells clients to connect to, if not where it listens.
    advertised: Option<String>,
}

impl Broker {
    /// Starts a broker on a free loopback port.
    pub fn start() -> Self {
        let mut broker = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            child: None,
            authentication: false,
            advertised: None,
        };
        broker.launch();
        broker
    }

    /// Starts a broker on a free loopback port that tells clients to
    /// connect to `advertised` (`tcp://HOST:PORT`), e.g. a TLS front.
    pub fn start_advertising(advertised: &str) -> Self {
        let mut broker = Self {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            child: None,
            authentication: false,
            advertised: Some(advertised.to_string()),
        };
        broker.launch();
        broker
    }

    /// The port it listens on (plaintext).
    pub fn port(&self) -> u16 {
        self.port
    }

    fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = self.advertised.clone().unwrap_or_else(|| url.clone());
        let log = std::fs::File::create(self.dir.path().join("tansu.log")).expect("log file");
        let child = Command::new(topictable_test_support::tansu::binary())
            .current_dir(self.dir.path())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &advertised])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .args(self.authentication.then_some("--authentication"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu (install it with `cargo install tansu --locked --features dynostore,libsql`)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("tansu.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// `bootstrap.servers` for clients.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates a topic.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(topictable_test_support::tansu::binary())
            .args([
                "topic",
                "create",
                name,
                "--partitions",
                &partitions.to_string(),
                "--broker",
            ])
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "creating topic {name} failed");
    }

    /// Deletes a topic.
    pub fn delete_topic(&self, name: &str) {
        let status = Command::new(topictable_test_support::tansu::binary())
            .args(["topic", "delete", name, "--broker"])
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .status()
            .expect("tansu topic delete");
        assert!(status.success(), "deleting topic {name} failed");
    }

    /// Adds a SCRAM-SHA-512 user (tansu's only SASL mechanism; it offers no
    /// PLAIN), then restarts the broker requiring every client to log in.
    /// tansu's own CLI cannot log in, so create the topics before this.
    pub fn require_scram_login(&mut self, user: &str, password: &str) {
        let status = Command::new(topictable_test_support::tansu::binary())
            .args(["user", "create", user, password, "--mechanism", "scram512"])
            .arg("--broker")
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .status()
            .expect("tansu user create");
        assert!(status.success(), "creating user {user} failed");
        self.authentication = true;
        self.restart();
    }

    /// Stops the broker (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain rdkafka producer that waits for every record to be acknowledged.
pub struct TestProducer {
    producer: BaseProducer,
}

impl TestProducer {
    /// A producer for `broker`.
    pub fn new(broker: &Broker) -> Self {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("linger.ms", "0")
            .create()
            .expect("producer");
        Self { producer }
    }

    /// Sends one record to `partition` and waits for it.
    pub fn send(
        &self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, &[u8])],
    ) {
        let mut owned = OwnedHeaders::new();
        for (k, v) in headers {
            owned = owned.insert(Header {
                key: k,
                value: Some(*v),
            });
        }
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).partition(partition).headers(owned);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        self.producer
            .send(record)
            .map_err(|(e, _)| e)
            .expect("queue record");
        self.producer.flush(Duration::from_secs(30)).expect("flush");
    }

    /// Sends `values` (no key) to `partition`, in order, and waits for all of them.
    pub fn send_values(&self, topic: &str, partition: i32, values: &[Vec<u8>]) {
        for value in values {
            let record: BaseRecord<'_, [u8], [u8]> =
                BaseRecord::to(topic).partition(partition).payload(value);
            self.producer
                .send(record)
                .map_err(|(e, _)| e)
                .expect("queue record");
        }
        self.producer.flush(Duration::from_secs(30)).expect("flush");
    }

    /// Sends `(key, value)` text records to `partition`.
    pub fn send_text(&self, topic: &str, partition: i32, records: &[(Option<&str>, &str)]) {
        for (k, v) in records {
            self.send(
                topic,
                partition,
                k.map(str::as_bytes),
                Some(v.as_bytes()),
                &[],
            );
        }
    }
}

/// The plugin crates the end-to-end tests load.
const PLUGINS: [(&str, &str); 5] = [
    ("topictable-plugin-simple", "topictable_plugin_simple"),
    ("topictable-plugin-json", "topictable_plugin_json"),
    ("topictable-plugin-avro", "topictable_plugin_avro"),
    ("topictable-plugin-protobuf", "topictable_plugin_protobuf"),
    ("topictable-plugin-file-sink", "topictable_plugin_file_sink"),
];

/// Builds the first-party plugins (same profile as this test) once, and
/// returns a registry loaded from a directory holding them.
pub fn plugins() -> PluginRegistry {
    let (registry, errors) = PluginRegistry::load_dir(&plugin_dir());
    assert!(errors.is_empty(), "{errors:?}");
    registry
}

/// The `topictable` binary, built with the same profile as this test.
pub fn topictable_bin() -> PathBuf {
    let dir = plugin_dir();
    let bin = dir
        .parent()
        .expect("profile dir")
        .join(format!("topictable{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// The `topictable` binary as users get it: built by `scripts/build.sh`
/// (release, `-p` only, so with exactly the features the shipped crates ask
/// for), with the first-party plugins in `plugins/` next to it, where it
/// looks by default. Built once per test process; a no-op when up to date.
pub fn shipped_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let status = Command::new("bash")
            .arg(root.join("scripts/build.sh"))
            .stdout(Stdio::null())
            .status()
            .expect("run scripts/build.sh");
        assert!(status.success(), "scripts/build.sh failed");
        let release = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("release");
        let bin = release.join("topictable");
        assert!(bin.exists(), "{} was not built", bin.display());
        assert!(
            std::fs::read_dir(release.join("plugins"))
                .map(|d| d.count())
                .unwrap_or(0)
                >= PLUGINS.len(),
            "scripts/build.sh did not lay out the plugins"
        );
        bin
    })
    .clone()
}

/// A directory holding the first-party plugins (built once per test process,
/// together with the `topictable` binary).
pub fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The whole workspace, built with this test's profile: the same
        // feature resolution as `cargo build --workspace`, so this reuses
        // that build instead of a second copy.
        let profile_dir = topictable_test_support::plugins::ensure_plugins_built();
        let dir = profile_dir.join("e2e-plugins");
        std::fs::create_dir_all(&dir).expect("plugin dir");
        for (_, stem) in PLUGINS {
            let file = topictable_test_support::plugins::library_file(stem);
            std::fs::copy(profile_dir.join(&file), dir.join(&file)).expect("copy plugin");
        }
        dir
    })
    .clone()
}

use topictable_test_support::reference_python;

/// The Python interpreter with confluent-kafka (see `topictable_test_support::reference_python`).
pub fn python() -> PathBuf {
    reference_python::python(&workspace_root())
}

/// Runs `tests/python/<script>` (or `script` itself when it is an absolute
/// path) with `args`; returns its stdout, panicking on failure.
pub fn run_python(script: &str, args: &[&str]) -> String {
    reference_python::run_script(&workspace_root(), script, args)
}

/// Produces `records` with confluent-kafka and its serializers
/// (`tests/python/produce.py`; see its docstring for the record format).
pub fn produce_with_python(broker: &Broker, topic: &str, records: &serde_json::Value) {
    produce_with_python_config(broker, topic, records, &serde_json::json!({}));
}

/// [`produce_with_python`] with extra librdkafka producer properties
/// (`config`, a JSON object), e.g. another `partitioner`.
pub fn produce_with_python_config(
    broker: &Broker,
    topic: &str,
    records: &serde_json::Value,
    config: &serde_json::Value,
) {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(workspace_root().join("tests/python/produce.py"))
        .args([broker.bootstrap().as_str(), topic, &config.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(records.to_string().as_bytes())
        .expect("write records");
    assert!(
        child.wait().expect("wait for python").success(),
        "produce.py failed"
    );
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `topictable registry` (the embedded Confluent-compatible Schema Registry)
/// running as its own process on a free port; killed when dropped.
pub struct Registry {
    child: Option<Child>,
    port: u16,
    persist: Option<PathBuf>,
    url: String,
}

impl Registry {
    /// Starts `topictable registry` (in memory) and waits until it listens.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts `topictable registry` keeping its schemas in `file`, so that
    /// [`Registry::restart`] serves the same ids.
    pub fn start_persistent(file: &Path) -> Self {
        Self::start_with(Some(file.to_path_buf()))
    }

    fn start_with(persist: Option<PathBuf>) -> Self {
        let port = free_port();
        let mut registry = Self {
            child: None,
            port,
            persist,
            url: format!("http://127.0.0.1:{port}"),
        };
        registry.restart();
        registry
    }

    /// Kills the registry process (an outage: clients get connection refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`Registry::stop`]) and waits
    /// until it listens.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new(topictable_bin());
        command.arg("--plugin-dir").arg(plugin_dir()).args([
            "registry",
            "--listen",
            &format!("127.0.0.1:{}", self.port),
        ]);
        if let Some(file) = &self.persist {
            command.arg("--persist").arg(file);
        }
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .expect("start topictable registry");
        self.child = Some(child);
        let port = self.port;
        wait_for("the registry to listen", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serializes `cases` with confluent-kafka's Confluent serializers through
/// `registry` and produces every record to `broker`, partition 0, in order.
/// `script` is `produce_avro.py` or `produce_protobuf.py` (their docstrings
/// give the case format). Returns the bytes of each record, as produced.
pub fn produce_serialized(
    script: &str,
    registry: &Registry,
    broker: &Broker,
    cases: &serde_json::Value,
) -> Vec<Vec<u8>> {
    run_serializer(script, registry, Some(broker), cases)
}

/// Serializes `cases` as [`produce_serialized`] does (registering their
/// schemas), without producing them: the bytes of each record.
pub fn serialize_with_python(
    script: &str,
    registry: &Registry,
    cases: &serde_json::Value,
) -> Vec<Vec<u8>> {
    run_serializer(script, registry, None, cases)
}

fn run_serializer(
    script: &str,
    registry: &Registry,
    broker: Option<&Broker>,
    cases: &serde_json::Value,
) -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cases_file, out_file) = (dir.path().join("cases.json"), dir.path().join("out.jsonl"));
    std::fs::write(&cases_file, cases.to_string()).expect("write cases");
    let mut args = vec![
        registry.url().to_string(),
        cases_file.to_str().expect("utf-8 path").to_string(),
        out_file.to_str().expect("utf-8 path").to_string(),
    ];
    args.extend(broker.map(Broker::bootstrap));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_python(script, &args);
    std::fs::read_to_string(&out_file)
        .expect("read output")
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("json line");
            let hex = record["hex"].as_str().expect("hex");
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
                .collect()
        })
        .collect()
}

/// The batch's rows as JSON objects (arrow-json's rendering, nulls left
/// out), without the `Kafka*` columns: for exact comparisons with what a
/// producer sent.
pub fn json_rows(batch: &arrow_array::RecordBatch) -> Vec<serde_json::Value> {
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| !batch.schema().field(i).name().starts_with("Kafka"))
        .collect();
    let batch = batch.project(&keep).expect("project");
    let mut writer = arrow_json::ArrayWriter::new(Vec::new());
    writer.write(&batch).expect("render rows as JSON");
    writer.finish().expect("finish JSON");
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Vec::new();
    }
    serde_json::from_slice(&bytes).expect("rows JSON")
}

/// Reads `topic` on `broker` from the beginning into an append table named
/// `name`, with the given key and value specs.
pub fn read_into_append_table(
    engine: &topictable_engine::Engine,
    broker: &Broker,
    name: &str,
    topic: &str,
    key: topictable::ingest::KeyOrValueSpec,
    value: topictable::ingest::KeyOrValueSpec,
) -> topictable::ingest::ConsumedTable {
    use topictable::ingest::{ConsumeSpec, InitialOffsets, StartAt, consume_to_table};
    let mut spec = ConsumeSpec::new(&broker.bootstrap(), topic, key, value);
    spec.table_type = topictable_engine::TableType::Append;
    spec.offsets = InitialOffsets::all(StartAt::Beginning);
    consume_to_table(engine, name, &plugins(), spec).expect("consume_to_table")
}

/// A snapshot of `table` once it holds at least `n` rows (30 s at most).
pub fn snapshot_with_rows(
    table: &topictable::ingest::ConsumedTable,
    n: usize,
) -> arrow_array::RecordBatch {
    wait_for(&format!("{n} rows"), Duration::from_secs(30), || {
        table.table().snapshot().ok().filter(|b| b.num_rows() >= n)
    })
}

/// A `topictable` process running in the background (with the test plugin
/// directory), its stdout and stderr collected as they come; killed when
/// dropped.
pub struct TopictableProcess {
    child: Option<Child>,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// What a finished `topictable` process left: its exit code and its output.
#[derive(Debug)]
pub struct Finished {
    /// The exit code (`None` if a signal killed it).
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl TopictableProcess {
    /// Starts `topictable --plugin-dir <test plugins> ARGS…`.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Self {
        Self::spawn(
            Command::new(topictable_bin())
                .arg("--plugin-dir")
                .arg(plugin_dir())
                .args(args),
        )
    }

    /// Starts `command` (a `topictable` invocation), collecting its output.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start topictable");
        let collect = |mut from: Box<dyn Read + Send>| {
            let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = text.clone();
            let reader = std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .expect("output lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
            (text, reader)
        };
        let (stdout, out_reader) = collect(Box::new(child.stdout.take().expect("stdout")));
        let (stderr, err_reader) = collect(Box::new(child.stderr.take().expect("stderr")));
        Self {
            child: Some(child),
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    /// The base URL of its HTTP server (`--http`), from the line it logs
    /// when it listens; fails the test if it logs an error first.
    pub fn http_base_url(&self) -> String {
        wait_for("the HTTP server to listen", Duration::from_secs(60), || {
            let stderr = self.stderr();
            assert!(!stderr.contains("error:"), "topictable failed:\n{stderr}");
            // The whole line, not a part of it still being written.
            let rest = &stderr[stderr.find("serving the API on ")?..];
            let line = &rest[..rest.find('\n')?];
            let url = line.split_whitespace().nth(4)?;
            Some(url.trim_end_matches("/api/v1").to_string())
        })
    }

    /// Its stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("output lock").clone()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("output lock").clone()
    }

    /// Waits until `topictable run` has started every table (its "running"
    /// log line), then `settle` more, so that consumers starting at the end
    /// of a topic have looked the end up before the test produces.
    pub fn wait_until_running(&self, settle: Duration) {
        wait_for(
            "topictable to start its tables",
            Duration::from_secs(60),
            || {
                let stderr = self.stderr();
                assert!(
                    !stderr.contains("error:"),
                    "topictable failed to start:\n{stderr}"
                );
                stderr.contains("Ctrl-C to stop").then_some(())
            },
        );
        std::thread::sleep(settle);
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -INT failed");
    }

    /// Waits for it to exit (at most `timeout`, then kills it and panics).
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for topictable") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "topictable did not exit within {timeout:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Finished {
            code: status.code(),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for TopictableProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads an Arrow IPC file back with pyarrow (`tests/python/read_arrow.py`):
/// `{"columns": [{"name", "type"}], "rows": [{…}]}`, timestamps as integers
/// and binary cells as hex.
pub fn read_arrow_with_pyarrow(path: &Path) -> serde_json::Value {
    let out = run_python("read_arrow.py", &[path.to_str().expect("utf-8 path")]);
    serde_json::from_str(&out).expect("read_arrow.py prints JSON")
}

/// The rows of a JSON Lines snapshot.
pub fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A `--snapshot` argument: `TABLE=PATH`.
pub fn snapshot_arg(table: &str, path: &Path) -> String {
    format!("{table}={}", path.display())
}

/// A response of topictable's HTTP server, read whole.
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpReply {
    /// The `Content-Type` header, or "".
    pub fn content_type(&self) -> &str {
        self.header("content-type")
    }

    /// Header `name`, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or `null` when it is empty.
    pub fn json(&self) -> serde_json::Value {
        if self.body.is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: not JSON: {}", self.text()))
    }
}

/// The HTTP client (reqwest) the tests talk to topictable's server with; a
/// request or a read waits at most 30 s.
pub fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Sends `request` and reads the response whole, whatever its status.
pub fn http_send(request: reqwest::blocking::RequestBuilder) -> HttpReply {
    let response = request.send().expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().expect("the response body").to_vec();
    HttpReply {
        status,
        headers,
        body,
    }
}

/// GET `url`, with a bearer token when one is given.
pub fn http_get(url: &str, token: Option<&str>) -> HttpReply {
    let mut request = http_client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    http_send(request)
}
