use serde_json::{Value, json};

use crate::support::{ScriptedInvoker, error_of, machine_from, next, step_with};

fn choice(fields: Value) -> order_workflow::StateMachine {
    let mut state = fields;
    state["Type"] = json!("Choice");
    machine_from("C", json!({ "C": state }))
}

/// Where the choice state goes for `input`, or the error name.
async fn goes_to(m: &order_workflow::StateMachine, input: Value) -> String {
    match step_with(m, "C", input, &ScriptedInvoker::new()).await {
        order_workflow::Transition::Next { state, .. } => state,
        other => error_of(&other).unwrap_or("?").to_owned(),
    }
}

#[tokio::test]
async fn choice_picks_the_first_matching_rule() {
    let m = choice(json!({
        "Choices": [
            { "Variable": "$.status", "StringEquals": "paid", "Next": "A" },
            { "Variable": "$.total", "NumericGreaterThan": 100, "Next": "B" },
            { "Variable": "$.total", "NumericGreaterThanEquals": 0, "Next": "Other" }
        ],
        "Default": "Other"
    }));
    assert_eq!(
        goes_to(&m, json!({"status": "paid", "total": 500})).await,
        "A"
    );
    assert_eq!(
        goes_to(&m, json!({"status": "new", "total": 500})).await,
        "B"
    );
    assert_eq!(
        goes_to(&m, json!({"status": "new", "total": 5})).await,
        "Other"
    );
}

#[tokio::test]
async fn choice_supports_numeric_comparisons() {
    let rule = |op: &str, value: f64| {
        choice(json!({
            "Choices": [{ "Variable": "$.n", op: value, "Next": "A" }],
            "Default": "B"
        }))
    };
    let cases = [
        ("NumericEquals", 5.0, "A"),
        ("NumericEquals", 5.5, "B"),
        ("NumericLessThan", 6.0, "A"),
        ("NumericLessThan", 5.0, "B"),
        ("NumericGreaterThan", 4.0, "A"),
        ("NumericLessThanEquals", 5.0, "A"),
        ("NumericGreaterThanEquals", 5.0, "A"),
        ("NumericGreaterThanEquals", 5.1, "B"),
    ];
    for (op, value, expected) in cases {
        assert_eq!(
            goes_to(&rule(op, value), json!({"n": 5})).await,
            expected,
            "{op} {value}"
        );
    }
}

#[tokio::test]
async fn choice_supports_and_or_not() {
    let m = choice(json!({
        "Choices": [
            {
                "And": [
                    { "Variable": "$.paid", "BooleanEquals": true },
                    { "Not": { "Variable": "$.country", "StringEquals": "XX" } }
                ],
                "Next": "A"
            },
            {
                "Or": [
                    { "Variable": "$.country", "StringEquals": "XX" },
                    { "Variable": "$.total", "NumericLessThan": 0 }
                ],
                "Next": "B"
            }
        ],
        "Default": "Other"
    }));
    assert_eq!(
        goes_to(&m, json!({"paid": true, "country": "DE", "total": 1})).await,
        "A"
    );
    assert_eq!(
        goes_to(&m, json!({"paid": true, "country": "XX", "total": 1})).await,
        "B"
    );
    assert_eq!(
        goes_to(&m, json!({"paid": false, "country": "DE", "total": -1})).await,
        "B"
    );
    assert_eq!(
        goes_to(&m, json!({"paid": false, "country": "DE", "total": 1})).await,
        "Other"
    );
}

#[tokio::test]
async fn and_short_circuits_so_is_present_guards_a_missing_field() {
    let m = choice(json!({
        "Choices": [{
            "And": [
                { "Variable": "$.coupon", "IsPresent": true },
                { "Variable": "$.coupon", "StringEquals": "FREE" }
            ],
            "Next": "A"
        }],
        "Default": "B"
    }));
    assert_eq!(goes_to(&m, json!({})).await, "B");
    assert_eq!(goes_to(&m, json!({"coupon": "FREE"})).await, "A");
}

#[tokio::test]
async fn choice_on_a_missing_variable_fails_with_states_runtime() {
    let m = choice(json!({
        "Choices": [{ "Variable": "$.missing", "StringEquals": "x", "Next": "A" }],
        "Default": "B"
    }));
    assert_eq!(goes_to(&m, json!({})).await, "States.Runtime");
}

#[tokio::test]
async fn choice_compares_against_another_path() {
    let m = choice(json!({
        "Choices": [
            { "Variable": "$.shipping.country", "StringEqualsPath": "$.billing.country", "Next": "A" },
            { "Variable": "$.paid", "NumericLessThanPath": "$.total", "Next": "B" }
        ],
        "Default": "Other"
    }));
    let input = |ship: &str, paid: i32| json!({"shipping": {"country": ship}, "billing": {"country": "DE"}, "paid": paid, "total": 10});
    assert_eq!(goes_to(&m, input("DE", 10)).await, "A");
    assert_eq!(goes_to(&m, input("FR", 5)).await, "B");
    assert_eq!(goes_to(&m, input("FR", 10)).await, "Other");
}

#[tokio::test]
async fn string_matches_uses_star_wildcards() {
    let m = choice(json!({
        "Choices": [{ "Variable": "$.sku", "StringMatches": "BOOK-*-EN", "Next": "A" }],
        "Default": "B"
    }));
    assert_eq!(goes_to(&m, json!({"sku": "BOOK-123-EN"})).await, "A");
    assert_eq!(goes_to(&m, json!({"sku": "BOOK-123-DE"})).await, "B");
    assert_eq!(
        goes_to(&m, json!({"sku": 5})).await,
        "B",
        "a non-string does not match"
    );
}

#[tokio::test]
async fn type_tests_check_presence_null_and_json_types() {
    let rule = |test: &str, expected: bool| {
        choice(json!({
            "Choices": [{ "Variable": "$.v", test: expected, "Next": "A" }],
            "Default": "B"
        }))
    };
    let cases = [
        ("IsPresent", true, json!({"v": null}), "A"),
        ("IsPresent", true, json!({}), "B"),
        ("IsPresent", false, json!({}), "A"),
        ("IsNull", true, json!({"v": null}), "A"),
        ("IsNull", true, json!({"v": 0}), "B"),
        ("IsString", true, json!({"v": "s"}), "A"),
        ("IsString", false, json!({"v": 1}), "A"),
        ("IsNumeric", true, json!({"v": 1.5}), "A"),
        ("IsNumeric", true, json!({"v": "1.5"}), "B"),
        ("IsBoolean", true, json!({"v": false}), "A"),
    ];
    for (test, expected, input, to) in cases {
        assert_eq!(
            goes_to(&rule(test, expected), input.clone()).await,
            to,
            "{test}: {expected} on {input}"
        );
    }
}

#[tokio::test]
async fn no_match_and_no_default_fails_with_states_no_choice_matched() {
    let m = choice(json!({
        "Choices": [
            { "Variable": "$.x", "StringEquals": "a", "Next": "A" },
            { "Variable": "$.y", "IsPresent": true, "Next": "B" },
            { "Variable": "$.z", "IsPresent": true, "Next": "Other" }
        ]
    }));
    assert_eq!(
        goes_to(&m, json!({"x": "b"})).await,
        "States.NoChoiceMatched"
    );
}

#[tokio::test]
async fn choice_applies_input_path_before_the_rules_and_output_path_after() {
    let m = choice(json!({
        "InputPath": "$.order",
        "OutputPath": "$.id",
        "Choices": [{ "Variable": "$.status", "StringEquals": "paid", "Next": "A" }],
        "Default": "B"
    }));
    let out = step_with(
        &m,
        "C",
        json!({"order": {"status": "paid", "id": "o-1"}}),
        &ScriptedInvoker::new(),
    )
    .await;
    assert_eq!(out, next("A", json!("o-1")));
}

#[test]
fn malformed_choice_states_are_rejected() {
    let parse = |state: Value| {
        let text =
            json!({"StartAt": "C", "States": {"C": state, "A": {"Type": "Succeed"}}}).to_string();
        order_workflow::StateMachine::from_json(&text, &std::collections::BTreeMap::new())
    };
    // Empty Choices, a top-level rule without Next, End on a Choice, a
    // Default naming no state.
    assert!(parse(json!({"Type": "Choice", "Choices": []})).is_err());
    assert!(parse(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true}], "Default": "A"})).is_err());
    assert!(parse(json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "A"}], "End": true})).is_err());
    assert!(matches!(
        parse(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "A"}], "Default": "Z"})
        ),
        Err(order_workflow::DefinitionError::UnknownTarget { .. })
    ));
}
