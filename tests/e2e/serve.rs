//! `topictable demo --http` / `run --http`: the live tables over REST and
//! Prometheus metrics, read with an HTTP client (reqwest) and pyarrow.

use std::time::Duration;

use serde_json::Value;
use topictable_e2e::{TopictableProcess, wait_for};

/// GET `url` with an optional bearer token: (status, content type, body).
fn get(url: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let reply = topictable_e2e::http_get(url, token);
    (reply.status, reply.content_type().to_string(), reply.body)
}

fn get_json(url: &str) -> (u16, Value) {
    let (status, _, body) = get(url, None);
    (status, serde_json::from_slice(&body).expect("a JSON body"))
}

#[test]
fn demo_serves_tables_snapshots_and_metrics() {
    let p = TopictableProcess::start(&["demo", "--http", "127.0.0.1:0", "--exit-after", "120s"]);
    let base = p.http_base_url();

    let (status, tables) = get_json(&format!("{base}/api/v1/tables"));
    assert_eq!(status, 200);
    let names: Vec<&str> = tables
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for want in ["priceTable", "ordersBlink", "lastOrders", "totalNotional"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let table = |name: &str| {
        tables
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    let orders = table("ordersBlink");
    assert_eq!(orders["kind"], "kafka");
    assert_eq!(orders["blink"], true);
    assert_eq!(orders["state"], "running");
    assert_eq!(orders["pipeline"], "quotes_orders");
    assert!(
        orders["schema"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "KafkaOffset" && c["type"] == "Int64"),
        "{orders}"
    );
    assert_eq!(table("totalNotional")["kind"], "derived");

    // Rows arrive as the demo's generator writes.
    wait_for("rows in lastOrders", Duration::from_secs(60), || {
        let (_, t) = get_json(&format!("{base}/api/v1/tables/lastOrders"));
        (t["rows"].as_u64()? >= 5).then_some(())
    });

    let (status, ct, body) = get(
        &format!("{base}/api/v1/tables/lastOrders/snapshot?format=json&limit=3"),
        None,
    );
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let orders: Value = serde_json::from_slice(&body).unwrap();
    let orders = orders.as_array().expect("an array of rows");
    assert_eq!(orders.len(), 3, "limit=3");
    assert!(orders[0].get("KafkaOffset").is_some(), "{:?}", orders[0]);

    let (status, ct, body) = get(
        &format!("{base}/api/v1/tables/lastOrders/snapshot?format=csv"),
        None,
    );
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let csv = String::from_utf8(body).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.contains("KafkaPartition") && header.contains("KafkaOffset"),
        "{header}"
    );
    assert!(csv.lines().count() > 3);

    // The Arrow IPC stream, read by pyarrow as a user would.
    let (status, ct, body) = get(
        &format!("{base}/api/v1/tables/lastPrice/snapshot?format=arrow"),
        None,
    );
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/vnd.apache.arrow.stream")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lastPrice.arrows");
    std::fs::write(&path, &body).unwrap();
    let out = std::process::Command::new(topictable_e2e::python())
        .args([
            "-c",
            "import sys, pyarrow.ipc as ipc; t = ipc.open_stream(open(sys.argv[1], 'rb')).read_all(); print(t.num_rows, ','.join(t.column_names))",
        ])
        .arg(&path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = String::from_utf8(out.stdout).unwrap();
    let (n, columns) = read.trim().split_once(' ').expect("rows and columns");
    assert!(n.parse::<u64>().unwrap() > 0, "{read}");
    assert!(columns.contains("KafkaTimestamp"), "{read}");

    // Errors name what is wrong, as Kafka Connect's do.
    let (status, err) = get_json(&format!("{base}/api/v1/tables/nope/snapshot"));
    assert_eq!(status, 404);
    assert_eq!(err["error_code"], 404);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("no table `nope`") && message.contains("totalNotional"),
        "{message}"
    );
    let (status, err) = get_json(&format!(
        "{base}/api/v1/tables/lastOrders/snapshot?format=xml"
    ));
    assert_eq!(status, 400);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("`xml`") && message.contains("`arrow`"),
        "{message}"
    );
    // Numbers that do not fit get the same JSON error, not a bare text one.
    let (status, err) = get_json(&format!(
        "{base}/api/v1/tables/lastOrders/snapshot?limit=99999999999999999999999"
    ));
    assert_eq!((status, err["error_code"].as_u64()), (400, Some(400)));

    // Prometheus metrics, per table.
    let (status, ct, body) = get(&format!("{base}/metrics"), None);
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let metrics = String::from_utf8(body).unwrap();
    let value = |name: &str, table: &str| -> f64 {
        let prefix = format!("{name}{{pipeline=\"quotes_orders\",table=\"{table}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{prefix} in:\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert!(value("topictable_table_rows", "lastOrders") >= 5.0);
    assert!(value("topictable_ingest_messages_total", "ordersBlink") >= 5.0);
    assert_eq!(
        value("topictable_ingest_decode_errors_total", "ordersBlink"),
        0.0
    );
    assert_eq!(value("topictable_table_failed", "priceTable"), 0.0);
}

#[test]
fn the_updates_stream_follows_a_live_table_as_sse_and_as_arrow() {
    use std::io::BufRead;

    let p = TopictableProcess::start(&["demo", "--http", "127.0.0.1:0", "--exit-after", "120s"]);
    let base = p.http_base_url();
    // Server-Sent Events: a snapshot with row keys, then one update per cycle.
    let response = topictable_e2e::http_client()
        .get(format!("{base}/api/v1/tables/lastPrice/updates"))
        .send()
        .expect("HTTP request");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut lines = std::io::BufReader::new(response).lines();
    let mut next_event = || -> (String, Value) {
        let (mut event, mut data) = (String::new(), String::new());
        loop {
            let line = lines.next().expect("the stream goes on").expect("a line");
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            } else if line.is_empty() && !data.is_empty() {
                return (event, serde_json::from_str(&data).unwrap());
            }
        }
    };
    let (event, snapshot) = next_event();
    assert_eq!(event, "snapshot");
    let keys = snapshot["keys"].as_array().unwrap();
    assert_eq!(keys.len(), snapshot["rows"].as_array().unwrap().len());
    assert_eq!(snapshot["total_rows"].as_u64(), Some(keys.len() as u64));
    let mut last_cycle = snapshot["cycle"].as_u64().unwrap();
    // lastPrice keeps one row per symbol: later cycles modify rows by key.
    let mut modified = 0;
    for _ in 0..10 {
        let (event, update) = next_event();
        assert_eq!(event, "update");
        let cycle = update["cycle"].as_u64().unwrap();
        assert!(
            cycle > last_cycle,
            "cycles in order: {cycle} after {last_cycle}"
        );
        last_cycle = cycle;
        for part in ["added", "modified", "removed"] {
            assert_eq!(
                update[part]["keys"].as_array().unwrap().len(),
                update[part]["rows"].as_array().unwrap().len(),
                "{update}"
            );
        }
        modified += update["modified"]["keys"].as_array().unwrap().len();
    }
    assert!(modified > 0, "prices change in place");

    // The same as an Arrow IPC stream, read by pyarrow.
    let out = std::process::Command::new(topictable_e2e::python())
        .arg(topictable_e2e::workspace_root().join("tests/python/follow_arrow.py"))
        .arg(format!(
            "{base}/api/v1/tables/priceTable/updates?format=arrow&tail=5"
        ))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    let columns: Vec<&str> = read["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(&columns[..3], ["__cycle", "__op", "__key"]);
    assert!(columns.contains(&"KafkaOffset"), "{columns:?}");
    let ops = read["ops"].as_array().unwrap();
    assert_eq!(ops[0][1], "snapshot", "{ops:?}");
    assert!(ops[0][2].as_u64().unwrap() <= 5, "tail=5: {ops:?}");
    assert_eq!(ops.last().unwrap()[1], "added", "{ops:?}");
}

#[test]
fn with_a_token_every_request_but_metrics_needs_it() {
    let p = TopictableProcess::spawn(
        std::process::Command::new(topictable_e2e::topictable_bin())
            .arg("--plugin-dir")
            .arg(topictable_e2e::plugin_dir())
            .args(["demo", "--http", "127.0.0.1:0", "--exit-after", "120s"])
            .env("TOPICTABLE_TOKEN", "s3cret"),
    );
    let base = p.http_base_url();
    let tables = format!("{base}/api/v1/tables");
    let (status, _, body) = get(&tables, None);
    assert_eq!(status, 401);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error_code"], 401);
    assert_eq!(get(&tables, Some("wrong")).0, 401);
    assert_eq!(get(&format!("{base}/nope"), None).0, 401, "401 before 404");
    assert_eq!(get(&tables, Some("s3cret")).0, 200);
    assert_eq!(get(&format!("{base}/metrics"), None).0, 200);
    assert!(!p.stderr().contains("s3cret"), "the token is never logged");
}

#[test]
fn the_shipped_binary_serves_zoned_timestamps_in_every_format() {
    // Built as scripts/build.sh builds it, so no feature (such as arrow's
    // chrono-tz, which "UTC"-zoned KafkaTimestamp needs) comes from another
    // workspace crate.
    let p = TopictableProcess::spawn(
        std::process::Command::new(topictable_e2e::shipped_bin()).args([
            "demo",
            "--http",
            "127.0.0.1:0",
            "--exit-after",
            "120s",
        ]),
    );
    let base = p.http_base_url();
    wait_for("rows in lastPrice", Duration::from_secs(60), || {
        let (_, t) = get_json(&format!("{base}/api/v1/tables/lastPrice"));
        (t["rows"].as_u64()? >= 1).then_some(())
    });
    for format in ["json", "csv", "arrow"] {
        let (status, _, body) = get(
            &format!("{base}/api/v1/tables/lastPrice/snapshot?format={format}"),
            None,
        );
        assert_eq!(status, 200, "{format}: {}", String::from_utf8_lossy(&body));
        if format != "arrow" {
            let text = String::from_utf8(body).unwrap();
            assert!(text.contains("KafkaTimestamp"), "{format}: {text}");
            let year = chrono::Utc::now().format("%Y-").to_string();
            assert!(
                text.contains(&year),
                "{format}: timestamps as dates: {text}"
            );
        }
    }
}

#[test]
fn the_web_view_shows_a_produced_row_in_headless_chromium() {
    web_view_shows_a_produced_row("chromium", "web-view.png");
}

#[test]
fn the_web_view_shows_a_produced_row_in_headless_firefox() {
    web_view_shows_a_produced_row("firefox", "web-view-firefox.png");
}

/// Opens the web view of a live pipeline in `browser` (tests/browser/web_view.mjs),
/// produces a record while the page is open, and checks that the grid shows it
/// first, that pause and resume work, and that a screenshot is written to
/// `target/SCREENSHOT`.
fn web_view_shows_a_produced_row(browser: &str, screenshot: &str) {
    use std::io::BufRead;

    let broker = topictable_e2e::Broker::start();
    broker.create_topic("web.events", 1);
    let producer = topictable_e2e::TestProducer::new(&broker);
    producer.send("web.events", 0, None, Some(b"first event"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let pipeline = dir.path().join("web.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[kafka]\n\"bootstrap.servers\" = \"{}\"\n\n[[table]]\nname = \"events\"\ntopic = \"web.events\"\ntype = \"append\"\noffsets = \"beginning\"\nvalue = {{ format = \"simple\", type = \"string\", column = \"Event\" }}\n",
            broker.bootstrap()
        ),
    )
    .unwrap();
    let p = TopictableProcess::start(&[
        "run".as_ref(),
        pipeline.as_os_str(),
        "--http".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let base = p.http_base_url();

    let marker = format!("web-view-{browser}-{}", std::process::id());
    let screenshot = topictable_e2e::workspace_root()
        .join("target")
        .join(screenshot);
    let _ = std::fs::remove_file(&screenshot);
    let mut node = std::process::Command::new("node")
        .arg(topictable_e2e::workspace_root().join("tests/browser/web_view.mjs"))
        .args([browser, &base, "events", &marker])
        .arg(&screenshot)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run node (scripts/test.sh installs it, the browsers and puppeteer-core)");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = node.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let next = |what: &str| {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{browser} never said {what}"));
        assert_eq!(line, what);
    };
    next("READY");
    // The page is open on the table: a record produced now must show up in its grid.
    producer.send("web.events", 0, None, Some(marker.as_bytes()), &[]);
    next("FOUND");
    next("PAUSED");
    next("RESUMED");
    assert!(node.wait().unwrap().success());
    let png = std::fs::read(&screenshot).expect("a screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn the_openapi_document_holds_against_the_server_under_schemathesis() {
    // `demo` (one fixed pipeline) and `serve` (pipelines created by the
    // generated requests themselves), both with a token.
    let state = tempfile::tempdir().unwrap();
    let hosts = [
        TopictableProcess::start(&[
            "demo",
            "--http",
            "127.0.0.1:0",
            "--token",
            "s3cret",
            "--exit-after",
            "600s",
        ]),
        TopictableProcess::start(&[
            "serve".as_ref(),
            "--http".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--token".as_ref(),
            "s3cret".as_ref(),
            "--state-dir".as_ref(),
            state.path().as_os_str(),
        ]),
    ];
    for p in &hosts {
        let base = p.http_base_url();
        let schemathesis = topictable_e2e::python().with_file_name("schemathesis");
        let cache = tempfile::tempdir().unwrap();
        // Every check schemathesis has (server errors, response schemas, status
        // codes and content types as documented, authentication), a bounded run.
        let out = std::process::Command::new(schemathesis)
            .arg("run")
            .arg(format!("{base}/api/v1/openapi.json"))
            .args([
                "-H",
                "Authorization: Bearer s3cret",
                "--checks",
                "all",
                // Pipeline files are TOML sent as text: no schema can say which
                // strings are valid TOML, so "a string" is not a promise of 2xx.
                "--exclude-checks",
                "positive_data_acceptance",
                // An endless stream has no whole body to check; the updates
                // stream has tests of its own (here and in serve::updates).
                "--exclude-path",
                "/api/v1/tables/{name}/updates",
                "--max-examples",
                "30",
                "--generation-deterministic",
            ])
            .env("NO_COLOR", "1")
            // It keeps a cache of found examples in its working directory: not in the tree.
            .current_dir(cache.path())
            .output()
            .expect("run schemathesis (scripts/test.sh installs it in the venv)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Warnings may remain (it cannot check an Arrow body against a schema); failures may not.
        assert!(
            !stdout.contains('❌') && stdout.contains(" passed"),
            "{stdout}"
        );
    }
}

/// `method` `url` with the token and an optional body: (status, JSON body or null).
fn call(method: &str, url: &str, token: &str, body: Option<(&str, &str)>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = topictable_e2e::http_client()
        .request(method, url)
        .bearer_auth(token);
    if let Some((content_type, text)) = body {
        request = request
            .header("Content-Type", content_type)
            .body(text.to_string());
    }
    let reply = topictable_e2e::http_send(request);
    (reply.status, reply.json())
}

fn orders_pipeline(bootstrap: &str, on_error: &str) -> String {
    format!(
        r#"[kafka]
"bootstrap.servers" = "{bootstrap}"
# Unused over plaintext; here to show that GET masks it.
"ssl.key.password" = "MARKER-KEY-PASS"

[[table]]
name = "opsOrders"
topic = "ops.orders"
type = "append"
offsets = "beginning"
on_error = "{on_error}"
value = {{ format = "json", columns = [{{ name = "Id", type = "int64" }}, {{ name = "Qty", type = "int64" }}] }}

[[derived]]
name = "opsLatest"
from = "opsOrders"
last_by = ["Id"]
"#
    )
}

fn orders(from: i64, to: i64) -> Value {
    Value::Array(
        (from..to)
            .map(|i| serde_json::json!({"value": {"Id": i % 7, "Qty": i}, "value_type": "json", "partition": 0}))
            .collect(),
    )
}

#[test]
fn serve_runs_pauses_resumes_restarts_and_deletes_pipelines_over_rest() {
    let broker = topictable_e2e::Broker::start();
    broker.create_topic("ops.orders", 1);
    let state = tempfile::tempdir().unwrap();
    let token = "op-t0ken";
    let serve = |state: &std::path::Path| {
        TopictableProcess::start(&[
            "serve".as_ref(),
            "--http".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--state-dir".as_ref(),
            state.as_os_str(),
            "--token".as_ref(),
            token.as_ref(),
        ])
    };
    let p = serve(state.path());
    let base = p.http_base_url();
    let api = |method: &str, path: &str, body: Option<(&str, &str)>| {
        call(method, &format!("{base}/api/v1{path}"), token, body)
    };
    let rows = |table: &str| -> u64 {
        let (status, t) = api("GET", &format!("/tables/{table}"), None);
        assert_eq!(status, 200, "{t}");
        t["rows"].as_u64().unwrap_or(0)
    };
    let table_status = |name: &str| -> Value {
        let (status, s) = api("GET", "/pipelines/orders/status", None);
        assert_eq!(status, 200, "{s}");
        s["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };

    // Bad definitions: 400 with the file's own error text; nothing starts.
    let (status, err) = api(
        "POST",
        "/pipelines?name=orders",
        Some(("text/plain", "[[table]]\nname = \"x\"\n")),
    );
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("orders.toml"),
        "{err}"
    );
    let (status, err) = api("POST", "/pipelines", Some(("text/plain", "")));
    assert_eq!((status, err["error_code"].as_u64()), (400, Some(400)));
    let (status, err) = api("POST", "/pipelines?name=orders", Some(("text/plain", "")));
    assert_eq!(status, 400);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("declares no table"),
        "{err}"
    );
    // Wrong token: 401, and nothing is created.
    let (status, _) = call(
        "POST",
        &format!("{base}/api/v1/pipelines?name=orders"),
        "wrong",
        Some(("text/plain", &orders_pipeline(&broker.bootstrap(), "fail"))),
    );
    assert_eq!(status, 401);
    assert_eq!(api("GET", "/pipelines", None).1, serde_json::json!([]));

    // Create from TOML; it reaches Running.
    let (status, created) = api(
        "POST",
        "/pipelines?name=orders",
        Some(("text/plain", &orders_pipeline(&broker.bootstrap(), "fail"))),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["tables"],
        serde_json::json!(["opsOrders", "opsLatest"])
    );
    assert!(
        state.path().join("orders.toml").exists(),
        "stored in --state-dir"
    );
    let (status, again) = api(
        "POST",
        "/pipelines?name=orders",
        Some(("text/plain", &orders_pipeline(&broker.bootstrap(), "fail"))),
    );
    assert_eq!(status, 409, "{again}");
    wait_for("Running", Duration::from_secs(30), || {
        (table_status("opsOrders")["state"] == "Running").then_some(())
    });

    // A bad replacement is refused and leaves the running pipeline alone.
    let (status, err) = api(
        "PUT",
        "/pipelines/orders",
        Some(("text/plain", "[[table]]\nname = 1\n")),
    );
    assert_eq!(status, 400, "{err}");
    assert_eq!(table_status("opsOrders")["state"], "Running");

    // Rows produced with confluent-kafka arrive; the snapshot in all three formats.
    topictable_e2e::produce_with_python(&broker, "ops.orders", &orders(0, 10));
    wait_for("10 rows", Duration::from_secs(30), || {
        (rows("opsOrders") == 10).then_some(())
    });
    let (status, json) = api("GET", "/tables/opsOrders/snapshot?format=json", None);
    assert_eq!(status, 200);
    assert_eq!(json.as_array().unwrap().len(), 10);
    let (status, _, csv) = get(
        &format!("{base}/api/v1/tables/opsLatest/snapshot?format=csv"),
        Some(token),
    );
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 1 + 7);
    let (status, _, arrow) = get(
        &format!("{base}/api/v1/tables/opsOrders/snapshot?format=arrow"),
        Some(token),
    );
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.arrows");
    std::fs::write(&path, &arrow).unwrap();
    let out = std::process::Command::new(topictable_e2e::python())
        .args([
            "-c",
            "import sys, pyarrow.ipc as ipc; t = ipc.open_stream(open(sys.argv[1], 'rb')).read_all(); print(sum(t.column('Qty').to_pylist()))",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "45", "{out:?}");

    // Position, high watermark and lag per partition; lag falls to 0.
    let partition = wait_for("lag 0", Duration::from_secs(30), || {
        let t = table_status("opsOrders");
        let p = t["partitions"][0].clone();
        (p["lag"] == 0 && p["position"] == 10).then_some(p)
    });
    assert_eq!(partition["high_watermark"], 10, "{partition}");
    assert_eq!(partition["topic"], "ops.orders");

    // Pause: the position holds while producing goes on; resume: every row arrives.
    let (status, _) = api("PUT", "/pipelines/orders/pause", None);
    assert_eq!(status, 202);
    wait_for("Paused", Duration::from_secs(30), || {
        (table_status("opsOrders")["state"] == "Paused").then_some(())
    });
    let (_, pipelines) = api("GET", "/pipelines", None);
    assert_eq!(pipelines[0]["state"], "Paused", "{pipelines}");
    topictable_e2e::produce_with_python(&broker, "ops.orders", &orders(10, 20));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rows("opsOrders"), 10, "paused: nothing taken");
    assert_eq!(table_status("opsOrders")["partitions"][0]["position"], 10);
    let (status, _) = api("PUT", "/pipelines/orders/resume", None);
    assert_eq!(status, 202);
    wait_for("20 rows", Duration::from_secs(30), || {
        (rows("opsOrders") == 20).then_some(())
    });
    assert_eq!(table_status("opsOrders")["state"], "Running");

    // A bad record fails the table, naming topic, partition and offset.
    let mut bad = orders(20, 23);
    bad.as_array_mut().unwrap()[1] =
        serde_json::json!({"value": "not json at all", "value_type": "string", "partition": 0});
    topictable_e2e::produce_with_python(&broker, "ops.orders", &bad);
    let failed = wait_for("Failed", Duration::from_secs(30), || {
        let t = table_status("opsOrders");
        (t["state"] == "Failed").then_some(t)
    });
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("ops.orders") && error.contains("21"),
        "{error}"
    );
    // The rows before the bad record stay (visible from the next cycle).
    wait_for("21 rows", Duration::from_secs(10), || {
        (rows("opsOrders") == 21).then_some(())
    });
    assert_eq!(failed["partitions"][0]["position"], 21, "{failed}");
    let (_, status_all) = api("GET", "/pipelines/orders/status", None);
    assert_eq!(status_all["state"], "Failed");

    // A correction that changes the columns is refused; the table stays failed.
    let changed = orders_pipeline(&broker.bootstrap(), "skip").replace("\"Qty\"", "\"Quantity\"");
    let (status, err) = api(
        "POST",
        "/pipelines/orders/restart",
        Some(("text/plain", &changed)),
    );
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("columns"),
        "{err}"
    );
    // Restart with `on_error = "skip"`: from the failed record, into the same
    // table; every good row once, the bad one skipped.
    let skip = orders_pipeline(&broker.bootstrap(), "skip");
    let (status, restarted) = api(
        "POST",
        "/pipelines/orders/restart",
        Some(("text/plain", &skip)),
    );
    assert_eq!(status, 200, "{restarted}");
    assert_eq!(restarted["restarted"], serde_json::json!(["opsOrders"]));
    wait_for("22 rows", Duration::from_secs(30), || {
        (rows("opsOrders") == 22).then_some(())
    });
    let t = table_status("opsOrders");
    assert_eq!(t["state"], "Running", "{t}");
    assert_eq!(t["errors"]["skipped"], 1, "{t}");
    assert_eq!(t["errors"]["by_reason"]["value"], 2, "{t}");
    let (_, json) = api("GET", "/tables/opsOrders/snapshot", None);
    let qty: Vec<i64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Qty"].as_i64().unwrap())
        .collect();
    assert_eq!(
        qty,
        (0..21).chain([22]).collect::<Vec<_>>(),
        "each good row once, in order"
    );
    let (_, def) = api("GET", "/pipelines/orders", None);
    assert!(
        def["definition"].as_str().unwrap().contains("\"skip\""),
        "{def}"
    );
    // Secrets are masked in what the API returns; the comments stay.
    let shown = def["definition"].as_str().unwrap();
    assert!(
        !shown.contains("MARKER") && shown.contains("\"ssl.key.password\" = \"***\""),
        "{shown}"
    );
    assert!(shown.contains("# Unused over plaintext"), "{shown}");

    // Metrics parse with Prometheus' own Python parser; the lag is 0.
    let (_, _, metrics) = get(&format!("{base}/metrics"), None);
    let out = std::process::Command::new(topictable_e2e::python())
        .arg(topictable_e2e::workspace_root().join("tests/python/parse_metrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&metrics)?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sample = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samples
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
            .unwrap_or_else(|| panic!("{name} {labels:?} in {samples}"))["value"]
            .as_f64()
            .unwrap()
    };
    let t = [("pipeline", "orders"), ("table", "opsOrders")];
    assert_eq!(sample("topictable_table_rows", &t), 22.0);
    assert_eq!(sample("topictable_ingest_skipped_total", &t), 1.0);
    // The bad record was a decode error twice: once failing the table, once skipped.
    let reason = |r| {
        [
            ("pipeline", "orders"),
            ("table", "opsOrders"),
            ("reason", r),
        ]
    };
    assert_eq!(
        sample("topictable_ingest_record_errors_total", &reason("value")),
        2.0
    );
    assert_eq!(
        sample("topictable_ingest_record_errors_total", &reason("key")),
        0.0
    );
    assert_eq!(
        sample(
            "topictable_consumer_lag",
            &[
                ("table", "opsOrders"),
                ("topic", "ops.orders"),
                ("partition", "0")
            ]
        ),
        0.0
    );
    assert!(
        sample(
            "topictable_cycle_duration_seconds_count",
            &[("pipeline", "orders")]
        ) > 0.0
    );
    assert_eq!(sample("topictable_plugin_info", &[("plugin", "json")]), 1.0);

    // Plugins and config validation.
    let (status, plugins) = api("GET", "/plugins", None);
    assert_eq!(status, 200);
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["formats"] == serde_json::json!(["json"])),
        "{plugins}"
    );
    let (status, json_codec) = api("GET", "/plugins/json", None);
    assert_eq!(status, 200);
    assert!(
        json_codec[0]["config"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["name"] == "columns"),
        "{json_codec}"
    );
    let (status, checked) = api(
        "PUT",
        "/plugins/simple/config/validate",
        Some(("application/json", r#"{"type": "int64", "nope": 1}"#)),
    );
    assert_eq!(status, 200);
    assert_eq!(checked["error_count"], 1, "{checked}");
    assert!(
        checked["errors"][0].as_str().unwrap().contains("nope"),
        "{checked}"
    );

    // A restart of `serve` brings the stored pipeline back (with the corrected definition).
    drop(p);
    let p = serve(state.path());
    let base2 = p.http_base_url();
    let (status, def) = call(
        "GET",
        &format!("{base2}/api/v1/pipelines/orders"),
        token,
        None,
    );
    assert_eq!(status, 200, "{def}");
    assert!(
        def["definition"].as_str().unwrap().contains("\"skip\""),
        "{def}"
    );
    wait_for("rows again", Duration::from_secs(30), || {
        let (_, t) = call(
            "GET",
            &format!("{base2}/api/v1/tables/opsOrders"),
            token,
            None,
        );
        (t["rows"] == 22).then_some(())
    });

    // Delete: stopped and forgotten, here and in --state-dir.
    let (status, _) = call(
        "DELETE",
        &format!("{base2}/api/v1/pipelines/orders"),
        token,
        None,
    );
    assert_eq!(status, 204);
    assert!(!state.path().join("orders.toml").exists());
    let (status, err) = call(
        "GET",
        &format!("{base2}/api/v1/tables/opsOrders"),
        token,
        None,
    );
    assert_eq!((status, err["error_code"].as_u64()), (404, Some(404)));
    let (status, _) = call(
        "DELETE",
        &format!("{base2}/api/v1/pipelines/orders"),
        token,
        None,
    );
    assert_eq!(status, 404);
}
