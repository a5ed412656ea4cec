//! CloudWatch Embedded Metric Format as the Lambda functions write it, read back for tests:
//! each line checked against the format (one namespace, every metric and dimension a top-level
//! key of the document) and split into series, and the series template.yaml's dashboard plots,
//! so a test can hold the one to the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use order_app::metrics::cloudwatch::NAMESPACE;
use serde_json::Value;

/// A series: the metric's name and its dimensions (name → value).
pub type Series = (String, BTreeMap<String, String>);

/// The series of the [`NAMESPACE`] namespace that `template`'s EcommerceProcessingDashboard
/// plots, read from its `DashboardBody` (the JSON under `!Sub |`, whose `${...}` sit inside
/// strings). A row's trailing options object (`{"stat": "p99"}`) is not part of its series.
pub fn dashboard_series(template: &str) -> BTreeSet<Series> {
    let mut lines = template
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("DashboardBody: !Sub |"))
        .skip(1);
    let first = lines.next().expect("a DashboardBody");
    let indent = first.len() - first.trim_start().len();
    let body: Vec<&str> = std::iter::once(first)
        .chain(
            lines.take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() >= indent),
        )
        .map(|l| l.get(indent..).unwrap_or_default())
        .collect();
    let body = body.join("\n");
    let body: Value = serde_json::from_str(&body).expect("DashboardBody is JSON");
    let mut series = BTreeSet::new();
    for widget in body["widgets"].as_array().expect("widgets") {
        let rows = widget["properties"]["metrics"].as_array();
        for row in rows.into_iter().flatten() {
            let texts: Vec<&str> = row
                .as_array()
                .expect("a metric row")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if texts.first() != Some(&NAMESPACE) {
                continue;
            }
            let dims = texts[2..]
                .chunks(2)
                .map(|kv| (kv[0].to_owned(), kv[1].to_owned()))
                .collect();
            series.insert((texts[1].to_owned(), dims));
        }
    }
    series
}

/// Checks `line` as an EMF document of [`NAMESPACE`] (panics naming what is wrong) and answers
/// each of its series with its value: a number, or a histogram's array of values.
pub fn parse(line: &str) -> Vec<(Series, Value)> {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let aws = &doc["_aws"];
    assert!(aws["Timestamp"].is_u64(), "a Timestamp: {line}");
    let mut out = Vec::new();
    for directive in aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics")
    {
        assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let dims: BTreeMap<String, String> = set
                .as_array()
                .expect("a dimension set")
                .iter()
                .map(|d| {
                    let d = d.as_str().expect("a dimension name");
                    let value = doc[d].as_str().unwrap_or_else(|| panic!("{d}: {line}"));
                    (d.to_owned(), value.to_owned())
                })
                .collect();
            for metric in metrics {
                let name = metric["Name"].as_str().expect("a metric Name");
                let value = &doc[name];
                assert!(value.is_number() || value.is_array(), "{name}: {line}");
                out.push(((name.to_owned(), dims.clone()), value.clone()));
            }
        }
    }
    out
}

/// The EMF lines among a function's log lines (its tracing output shares stdout).
pub fn lines_of(log: &str) -> impl Iterator<Item = &str> {
    log.lines()
        .filter(|l| l.starts_with('{') && l.contains("\"_aws\""))
}

/// The EMF lines of every `*.log` file in `dir` (the stack harness's function logs).
pub fn lines_in(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            lines.extend(lines_of(&text).map(str::to_owned));
        }
    }
    lines
}

/// The total of `metric` over `lines`: its dimensionless series summed (a histogram counts its
/// values). Every document carries the dimensionless set, so each recorded value counts once.
pub fn total(lines: &[String], metric: &str) -> f64 {
    lines
        .iter()
        .flat_map(|l| parse(l))
        .filter(|((name, dims), _)| name == metric && dims.is_empty())
        .map(|(_, v)| match v {
            #[allow(clippy::cast_precision_loss)] // a handful of values
            Value::Array(values) => values.len() as f64,
            v => v.as_f64().unwrap_or_default(),
        })
        .sum()
}
