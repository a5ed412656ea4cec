//! Each local alarm is the template's alarm of the same name: period, evaluation periods,
//! datapoints to alarm, threshold, comparison and missing-data treatment. The template is read
//! as text (its `!Sub`/`!GetAtt` tags are not plain YAML): the alarm is the resource whose
//! `AlarmName` ends in `-<name>`, its properties the indented lines up to the next resource.

use super::*;

const TEMPLATE: &str = include_str!("../../../../template.yaml");

/// The properties of the template alarm named `name`: `(key, value)` for every `Key: value`
/// line of the resource (nested ones included: a metric-math alarm's `Period`s are in its
/// `MetricStat`s).
fn template_alarm(name: &str) -> Option<Vec<(String, String)>> {
    let lines: Vec<&str> = TEMPLATE.lines().collect();
    let named = format!("AlarmName: !Sub \"${{AWS::StackName}}-{name}\"");
    let at = lines.iter().position(|l| l.trim() == named)?;
    let start = (0..at).rev().find(|&i| is_resource(lines[i]))?;
    let end = (at..lines.len())
        .find(|&i| is_resource(lines[i]) || !lines[i].starts_with(' ') && !lines[i].is_empty())
        .unwrap_or(lines.len());
    Some(
        lines[start..end]
            .iter()
            .filter_map(|l| {
                let (k, v) = l.trim().trim_start_matches("- ").split_once(": ")?;
                Some((k.to_owned(), v.trim().to_owned()))
            })
            .collect(),
    )
}

/// A resource's first line: two spaces, then its logical id.
fn is_resource(line: &str) -> bool {
    line.len() > 2 && line.starts_with("  ") && !line.starts_with("   ") && line.ends_with(':')
}

fn values<'a>(props: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    props
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn one<'a>(props: &'a [(String, String)], key: &str, name: &str) -> &'a str {
    match values(props, key).as_slice() {
        [v] => v,
        other => panic!("{name}: {key} is {other:?} in the template"),
    }
}

fn treat_missing(v: &str) -> TreatMissing {
    match v {
        "notBreaching" => TreatMissing::NotBreaching,
        "breaching" => TreatMissing::Breaching,
        "ignore" => TreatMissing::Ignore,
        _ => TreatMissing::Missing,
    }
}

/// Checks the local definition `name` against the template's.
fn matches_the_template(name: &str) {
    let def = definitions()
        .into_iter()
        .find(|d| d.name == name)
        .expect("a local alarm");
    let props = template_alarm(name).unwrap_or_else(|| panic!("no alarm {name} in template.yaml"));
    let periods = values(&props, "Period");
    assert!(!periods.is_empty(), "{name}: no Period");
    for p in periods {
        assert_eq!(p, def.period.as_secs().to_string(), "{name}: Period");
    }
    let n = one(&props, "EvaluationPeriods", name);
    assert_eq!(
        n,
        def.evaluation_periods.to_string(),
        "{name}: EvaluationPeriods"
    );
    let m = values(&props, "DatapointsToAlarm")
        .first()
        .copied()
        .unwrap_or(n);
    assert_eq!(
        m,
        def.datapoints_to_alarm.to_string(),
        "{name}: DatapointsToAlarm"
    );
    let threshold: f64 = one(&props, "Threshold", name).parse().expect("a number");
    assert!(
        (threshold - def.threshold).abs() < 1e-9,
        "{name}: Threshold"
    );
    let comparison = one(&props, "ComparisonOperator", name);
    assert_eq!(
        comparison,
        def.comparison.as_str(),
        "{name}: ComparisonOperator"
    );
    let missing = values(&props, "TreatMissingData")
        .first()
        .copied()
        .unwrap_or("missing");
    assert_eq!(
        treat_missing(missing),
        def.treat_missing,
        "{name}: TreatMissingData"
    );
}

/// The alarms on OrdersQueue and its DLQ, which the template has always had.
#[test]
fn the_queue_alarms_match_the_template() {
    matches_the_template("OrdersQueueDepth");
    matches_the_template("OrdersDeadLetterQueue");
}

/// The business alarms (failure rate, end-to-end p99, projection lag) of issue 15: they pass
/// once template.yaml defines them.
#[test]
fn the_business_alarms_match_the_template() {
    for name in ["OrderFailureRate", "OrderLatencyP99", "ProjectionLag"] {
        matches_the_template(name);
    }
}

/// The reader finds what it should: a metric-math alarm's nested periods, and nothing of the
/// next resource.
#[test]
fn the_reader_stops_at_the_next_resource() {
    let props = template_alarm("OrdersQueueDepth").expect("OrdersQueueDepth");
    assert_eq!(values(&props, "AlarmActions").len(), 1);
    assert_eq!(values(&props, "Type"), ["AWS::CloudWatch::Alarm"]);
    assert!(template_alarm("NoSuchAlarm").is_none());
}
