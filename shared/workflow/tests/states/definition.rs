use std::collections::{BTreeMap, BTreeSet};

use order_workflow::{DefinitionError, StateMachine, TaskInfo};
use serde_json::{Value, json};

fn parse(definition: &Value) -> Result<StateMachine, DefinitionError> {
    StateMachine::from_json(&definition.to_string(), &BTreeMap::new())
}

fn subs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const TEMPLATE: &str = r#"{
  "Comment": "orders",
  "StartAt": "Charge",
  "States": {
    "Charge": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": { "FunctionName": "${ChargeFunctionArn}", "Payload.$": "$" },
      "Next": "Notify"
    },
    "Notify": {
      "Type": "Task",
      "Resource": "arn:aws:states:::sns:publish",
      "Parameters": { "TopicArn": "${OrdersTopicArn}", "Message.$": "States.JsonToString($)" },
      "End": true
    }
  }
}"#;

#[test]
fn placeholders_lists_every_name_the_text_uses() {
    assert_eq!(
        StateMachine::placeholders(TEMPLATE),
        BTreeSet::from(["ChargeFunctionArn".to_owned(), "OrdersTopicArn".to_owned()])
    );
}

#[test]
fn placeholders_are_substituted_before_parsing_and_tasks_report_them() {
    let m = StateMachine::from_json(
        TEMPLATE,
        &subs(&[
            ("ChargeFunctionArn", "arn:fn:charge"),
            ("OrdersTopicArn", "arn:sns:orders"),
        ]),
    )
    .expect("valid");
    assert_eq!(m.start_at(), "Charge");
    assert_eq!(m.state_names(), vec!["Charge", "Notify"]);
    assert_eq!(m.state_type("Notify"), Some("Task"));
    assert_eq!(
        m.tasks(),
        vec![
            TaskInfo {
                state: "Charge".to_owned(),
                resource: "arn:aws:states:::lambda:invoke".to_owned(),
                parameters: Some(json!({"FunctionName": "arn:fn:charge", "Payload.$": "$"})),
            },
            TaskInfo {
                state: "Notify".to_owned(),
                resource: "arn:aws:states:::sns:publish".to_owned(),
                parameters: Some(
                    json!({"TopicArn": "arn:sns:orders", "Message.$": "States.JsonToString($)"})
                ),
            },
        ]
    );
}

#[test]
fn an_unknown_placeholder_is_a_definition_error_naming_it() {
    let err = StateMachine::from_json(TEMPLATE, &subs(&[("ChargeFunctionArn", "x")]))
        .expect_err("missing");
    assert_eq!(
        err,
        DefinitionError::UnknownPlaceholder("OrdersTopicArn".to_owned())
    );
    assert!(err.to_string().contains("${OrdersTopicArn}"), "{err}");
}

#[test]
fn invalid_json_is_a_definition_error() {
    assert!(matches!(
        StateMachine::from_json("{not json", &BTreeMap::new()),
        Err(DefinitionError::Json(_))
    ));
}

#[test]
fn a_missing_start_state_is_rejected() {
    let err =
        parse(&json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})).expect_err("bad");
    assert_eq!(err, DefinitionError::MissingStartState("Nope".to_owned()));
}

#[test]
fn a_next_naming_a_missing_state_is_rejected() {
    let err = parse(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
        .expect_err("bad");
    assert_eq!(
        err,
        DefinitionError::UnknownTarget {
            state: "A".to_owned(),
            field: "Next".to_owned(),
            target: "B".to_owned()
        }
    );
}

#[test]
fn parallel_and_map_states_are_rejected_with_a_clear_error() {
    for kind in ["Parallel", "Map"] {
        let err = parse(&json!({"StartAt": "A", "States": {"A": {"Type": kind, "End": true}}}))
            .expect_err("unsupported");
        assert_eq!(
            err,
            DefinitionError::UnsupportedStateType {
                state: "A".to_owned(),
                kind: kind.to_owned()
            }
        );
        assert!(err.to_string().contains("not supported"), "{err}");
    }
}

#[test]
fn a_non_terminal_state_without_next_or_end_is_rejected() {
    for state in [
        json!({"Type": "Pass"}),
        json!({"Type": "Task", "Resource": "arn:x"}),
        json!({"Type": "Wait", "Seconds": 1}),
        json!({"Type": "Pass", "Next": "A", "End": true}),
    ] {
        assert!(
            matches!(
                parse(&json!({"StartAt": "A", "States": {"A": state}})),
                Err(DefinitionError::Invalid { .. })
            ),
            "{state}"
        );
    }
}

#[test]
fn terminal_states_cannot_have_next() {
    let err = parse(&json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}))
        .expect_err("bad");
    assert!(err.to_string().contains("States.A.Next"), "{err}");
}

#[test]
fn an_unreachable_state_is_rejected() {
    let err = parse(&json!({
        "StartAt": "A",
        "States": {"A": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}
    }))
    .expect_err("bad");
    assert_eq!(err, DefinitionError::UnreachableState("Orphan".to_owned()));
}

#[test]
fn unsupported_and_unknown_fields_are_rejected_by_name() {
    let err = parse(&json!({
        "StartAt": "A",
        "States": {"A": {"Type": "Wait", "Timestamp": "2026-01-01T00:00:00Z", "End": true}}
    }))
    .expect_err("bad");
    assert!(
        err.to_string()
            .contains("States.A.Timestamp: is not supported"),
        "{err}"
    );

    let err =
        parse(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Nxt": "A", "End": true}}}))
            .expect_err("bad");
    assert!(err.to_string().contains("States.A.Nxt"), "{err}");
}

#[test]
fn bad_paths_and_templates_are_rejected_when_parsing() {
    for state in [
        json!({"Type": "Pass", "InputPath": "$..a", "End": true}),
        json!({"Type": "Pass", "ResultPath": "$$.State", "End": true}),
        json!({"Type": "Pass", "Parameters": {"a.$": "not a path"}, "End": true}),
        json!({"Type": "Pass", "Parameters": {"a.$": "States.Hash($.a, 'SHA-1')"}, "End": true}),
        json!({"Type": "Task", "Resource": "arn:x", "TimeoutSeconds": 0, "End": true}),
        json!({"Type": "Fail", "Error": "A", "ErrorPath": "$.e"}),
        json!({"Type": "Wait", "Seconds": -1, "End": true}),
        json!({"Type": "Banana", "End": true}),
    ] {
        assert!(
            parse(&json!({"StartAt": "A", "States": {"A": state}})).is_err(),
            "{state}"
        );
    }
}
