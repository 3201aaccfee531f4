//! Pipeline files: every example parses, and mistakes name file, table and key.

use std::path::Path;
use std::time::Duration;

use topictable::ingest::{
    ConsumerMode, DeadLetterRetry, HeaderColumns, KeyOrValueSpec, OnError, OnRevoke, Partitions,
    StartAt,
};
use topictable::pipeline::{Operation, parse, parse_duration};
use topictable_engine::TableType;

fn err(text: &str) -> String {
    parse(Path::new("p.toml"), text)
        .expect_err("should be rejected")
        .to_string()
}

#[test]
fn every_example_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let p = topictable::pipeline::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!p.table_names().is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 5, "one example per seed example");
}

#[test]
fn the_seed_multiple_operations_example_reads_as_intended() {
    let p = topictable::pipeline::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quotes_orders.toml"),
    )
    .unwrap();
    assert_eq!(
        p.table_names(),
        [
            "priceTable",
            "ordersBlink",
            "lastPrice",
            "lastOrders",
            "ordersWithCurrentPrice",
            "totalNotional"
        ]
    );
    let (_, quotes) = &p.sources[0];
    assert_eq!(quotes.table_type, TableType::Blink);
    assert_eq!(quotes.properties["bootstrap.servers"], "localhost:9092");
    assert!(matches!(&quotes.key, KeyOrValueSpec::Codec { format, .. } if format == "simple"));
    match &p.derived[3].operation {
        Operation::AggBy { keys, aggs } => {
            assert_eq!(keys, &["Symbol"]);
            assert_eq!(aggs[1].kind, "WSum");
            assert_eq!(aggs[1].weight.as_deref(), Some("Qty"));
            assert_eq!(aggs[1].pair, "Notional = LastPrice");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn all_source_options_parse() {
    let p = parse(
        Path::new("p.toml"),
        r#"
[kafka]
"bootstrap.servers" = "b:1"
"security.protocol" = "SASL_SSL"

[engine]
cycle = "250ms"

[[table]]
name = "t"
topics = ["a", "b"]
partitions = [0, 2]
offsets = { 0 = 1200, 2 = "beginning", default = "end" }
mode = "assign"
type = { ring = 5 }
key = { format = "simple", type = "string" }
value = { format = "simple", type = "int64", encoding = "text" }
columns = { partition = "P", offset = false, receive_time = true, headers = { trace = "string", n = { column = "N", type = "int64" } } }
on_error = "dead-letter"
dead_letter_topic = "t.dlq"
dead_letter_retries = 5
dead_letter_retry_backoff = "250ms"
properties = { "group.id" = "g", "fetch.min.bytes" = 1 }
max_batch = 100

[[table]]
name = "u"
topic = "c"
offsets = { timestamp = "2026-11-23T10:00:00Z" }
value = { format = "simple", type = "string" }
on_error = "skip"

[[table]]
name = "g"
topic = "c"
mode = "group"
offsets = "beginning"
value = { format = "simple", type = "string" }
properties = { "group.id" = "readers" }

[[time_table]]
name = "ticks"
period = "PT00:00:00.1"
type = "blink"
"#,
    )
    .unwrap();
    assert_eq!(p.cycle, Duration::from_millis(250));
    let (_, t) = &p.sources[0];
    assert_eq!(t.topics, ["a", "b"]);
    assert_eq!(t.partitions, Partitions::List(vec![0, 2]));
    assert_eq!(t.offsets.default, StartAt::End);
    assert_eq!(t.offsets.for_partition(0), &StartAt::Offset(1200));
    assert_eq!(t.offsets.for_partition(2), &StartAt::Beginning);
    assert_eq!(t.mode, ConsumerMode::Assign);
    assert_eq!(t.table_type, TableType::Ring(5));
    assert_eq!(t.columns.partition.as_deref(), Some("P"));
    assert_eq!(t.columns.offset, None);
    assert_eq!(t.columns.receive_time.as_deref(), Some("ReceiveTime"));
    assert!(matches!(&t.columns.headers, HeaderColumns::Chosen(c) if c.len() == 2));
    assert_eq!(
        t.on_error,
        OnError::DeadLetter {
            topic: "t.dlq".into(),
            retry: DeadLetterRetry {
                max_retries: 5,
                backoff: Duration::from_millis(250),
            },
        }
    );
    assert_eq!(t.properties["security.protocol"], "SASL_SSL");
    assert_eq!(t.properties["fetch.min.bytes"], "1");
    assert_eq!(t.max_batch, 100);
    assert_eq!(
        p.sources[1].1.offsets.default,
        StartAt::Timestamp(1_763_892_000_000 + 365 * 86_400_000)
    );
    let (_, g) = &p.sources[2];
    assert_eq!(g.mode, ConsumerMode::Group);
    assert_eq!(g.offsets.default, StartAt::Beginning);
    assert_eq!(g.properties["group.id"], "readers");
    assert_eq!(p.time_tables[0].period, Duration::from_millis(100));
    assert_eq!(p.time_tables[0].table_type, TableType::Blink);
}

#[test]
fn group_mode_takes_a_start_time_for_partitions_without_commits() {
    let text = "[kafka]\n\"group.id\" = \"g\"\n[[table]]\nname = \"t\"\ntopic = \"x\"\nvalue = { format = \"simple\", type = \"int64\" }\nmode = \"group\"\noffsets = { timestamp = \"2026-11-23T10:00:00Z\" }\n";
    let p = parse(Path::new("p.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let (_, spec) = &p.sources[0];
    assert_eq!(spec.mode, ConsumerMode::Group);
    assert_eq!(spec.offsets.default, StartAt::Timestamp(1_795_428_000_000));
    assert_eq!(spec.on_revoke, OnRevoke::Remove, "the default");
    let keep = parse(
        Path::new("p.toml"),
        &format!("{text}on_revoke = \"keep\"\ncolumns = {{ partition = false }}\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keep.sources[0].1.on_revoke, OnRevoke::Keep);
}

#[test]
fn mistakes_name_file_table_key_and_expectation() {
    let base = "[[table]]\nname = \"t\"\ntopic = \"x\"\nvalue = { format = \"simple\", type = \"int64\" }\n";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{base}topc = 1\n"),
            "p.toml: table `t`, key `topc`: unknown key; did you mean `topic`?",
        ),
        (
            format!("{base}type = \"rign(3)\"\n"),
            "p.toml: table `t`, key `type`: expected \"append\", \"blink\", \"ring(N)\" or { ring = N }, found \"rign(3)\"",
        ),
        (
            format!("{base}offsets = \"start\"\n"),
            "p.toml: table `t`, key `offsets`: expected \"committed\", \"beginning\", \"end\" or an offset, found \"start\"",
        ),
        (
            format!("{base}on_error = \"dead-letter\"\n"),
            "p.toml: table `t`, key `dead_letter_topic`: on_error = \"dead-letter\" needs `dead_letter_topic`",
        ),
        (
            format!(
                "{base}on_error = \"dead-letter\"\ndead_letter_topic = \"d\"\ndead_letter_retries = -1\n"
            ),
            "p.toml: table `t`, key `dead_letter_retries`: expected a whole number",
        ),
        (
            "[[table]]\nname = \"t\"\ntopic = 7\n".into(),
            "p.toml: table `t`, key `topic`: expected a string, found an integer",
        ),
        (
            format!("{base}partitions = 3\n"),
            "p.toml: table `t`, key `partitions`: expected \"all\" or a list of partitions, found an integer",
        ),
        (
            format!("{base}properties = {{ \"linger.ms\" = [1] }}\n"),
            "p.toml: table `t`, key `properties.linger.ms`: expected a string, number or boolean, found a list",
        ),
        (
            "table = 5\n".into(),
            "p.toml: key `table`: expected [[table]] entries, found an integer",
        ),
        (
            format!("{base}[[sink]]\nname = \"s\"\nfrom = \"t\"\ntopic = \"o\"\npublish_initial = \"yes\"\n"),
            "p.toml: table `s`, key `publish_initial`: expected true or false, found a string",
        ),
        (
            format!("{base}[[sink]]\nname = \"s\"\nfrom = \"t\"\ntopic = \"o\"\non_failure = \"again\"\n"),
            "p.toml: table `s`, key `on_failure`: expected \"stop\" or \"retry\", found \"again\"",
        ),
        (
            format!("{base}on_revoke = \"drop\"\n"),
            "p.toml: table `t`, key `on_revoke`: expected \"remove\" or \"keep\", found \"drop\"",
        ),
        (
            format!(
                "{base}mode = \"group\"\nproperties = {{ \"group.id\" = \"g\" }}\ncolumns = {{ partition = false }}\n"
            ),
            "p.toml: table `t`, key `on_revoke`: in group mode a member removes the rows of a partition the group moves away, found by the partition column: keep that column (or set on_revoke = \"keep\" to keep the rows of partitions the group moves to another member)",
        ),
        (
            "[[table]]\nname = \"t\"\ntopics = [\"x\", \"y\"]\nvalue = { format = \"simple\", type = \"int64\" }\nmode = \"group\"\nproperties = { \"group.id\" = \"g\" }\n".into(),
            "p.toml: table `t`, key `on_revoke`: in group mode a member removes the rows of a partition the group moves away, and with several topics it needs the topic column to find them: add `columns = { topic = true }` (or set on_revoke = \"keep\" to keep the rows of partitions the group moves to another member)",
        ),
        (
            format!("{base}columns = {{ partiton = false }}\n"),
            "p.toml: table `t`, key `columns.partiton`: unknown key; did you mean `partition`?",
        ),
        (
            "[[table]]\nname = \"t\"\ntopic = \"x\"\nkey = \"ignore\"\n".into(),
            "p.toml: table `t`, key `value`: the key and the value are both ignored",
        ),
        (
            "[[table]]\nname = \"t\"\nvalue = { format = \"simple\" }\n".into(),
            "p.toml: table `t`, key `topic`: missing",
        ),
        (
            format!(
                "{base}[[derived]]\nname = \"d\"\nfrom = \"t\"\nlast_by = [\"A\"]\nview = [\"A\"]\n"
            ),
            "p.toml: table `d`: has 2 operations (last_by, view)",
        ),
        (
            format!(
                "{base}[[derived]]\nname = \"d\"\nfrom = \"t\"\nagg_by = {{ aggs = [\"Summ(X = Y)\"] }}\n"
            ),
            "p.toml: table `d`, key `agg_by.aggs`: unknown aggregation `Summ` (did you mean Sum?)",
        ),
        (
            format!(
                "{base}[[derived]]\nname = \"d\"\nfrom = \"t\"\nnatural_join = {{ right = \"nope\", on = [\"A\"], columns = [] }}\n"
            ),
            "p.toml: table `d`, key `natural_join.right`: no table `nope` is declared before this one",
        ),
        (
            format!(
                "{base}[[table]]\nname = \"t\"\ntopic = \"y\"\nvalue = \"ignore\"\nkey = {{ format = \"simple\", type = \"string\" }}\n"
            ),
            "p.toml: table `t`, key `name`: this name is used twice",
        ),
        (
            "[engine]\ncycle = \"fast\"\n".into(),
            "p.toml: key `engine.cycle`: expected a duration like \"100ms\"",
        ),
        (
            "[kafak]\n".into(),
            "p.toml: key `kafak`: unknown key; did you mean `kafka`?",
        ),
        ("[[table]\n".into(), "p.toml: not valid TOML"),
        (
            format!("{base}mode = \"group\"\n"),
            "p.toml: table `t`, key `mode`: mode = \"group\" needs a `group.id`: set it in the broker properties ([kafka], or this table's `properties`)",
        ),
        (
            format!("[kafka]\n\"group.id\" = \"g\"\n{base}mode = \"group\"\npartitions = [0, 1]\n"),
            "p.toml: table `t`, key `partitions`: in group mode the group assigns the partitions: expected no `partitions` (or \"all\"), found a list",
        ),
        (
            format!(
                "{base}mode = \"group\"\nproperties = {{ \"group.id\" = \"g\" }}\noffsets = {{ 0 = 5, default = \"end\" }}\n"
            ),
            "p.toml: table `t`, key `offsets`: in group mode each partition starts at the group's committed offset: expected \"committed\", \"beginning\", \"end\" or { timestamp = … } (where a partition with no committed offset starts), found a per-partition map",
        ),
        (
            format!(
                "{base}mode = \"group\"\nproperties = {{ \"group.id\" = \"g\" }}\noffsets = 5\n"
            ),
            "p.toml: table `t`, key `offsets`: in group mode each partition starts at the group's committed offset: expected \"committed\", \"beginning\", \"end\" or { timestamp = … } (where a partition with no committed offset starts), found `offsets = 5`, which would start every partition at the same offset",
        ),
    ];
    for (text, expected) in cases {
        let message = err(&text);
        assert!(
            message.starts_with(expected),
            "for\n{text}\nexpected prefix: {expected}\ngot:             {message}"
        );
    }
}

#[test]
fn durations_read_like_deephaven_and_humans() {
    assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
    assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(
        parse_duration("PT0.1S").unwrap(),
        Duration::from_millis(100)
    );
    assert_eq!(
        parse_duration("PT00:00:01.5").unwrap(),
        Duration::from_millis(1500)
    );
    assert!(parse_duration("10").is_err());
    assert!(parse_duration("10 parsecs").is_err());
}
