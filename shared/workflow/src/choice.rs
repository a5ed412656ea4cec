//! Choice rules: parsing the `Choices` array and evaluating a rule against
//! the state's effective input.
//!
//! A comparison whose `Variable` (or `...Path` operand) selects nothing is a
//! `States.Runtime` error, as in AWS; guard it with `IsPresent` inside an
//! `And` (evaluation short-circuits). A value of the wrong type simply does
//! not match.

use std::cmp::Ordering;

use serde_json::Value;

use crate::definition::DefinitionError;
use crate::errors::StateError;
use crate::fields::Fields;
use crate::path::ReferencePath;

/// A top-level rule: a condition and the state to go to when it holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceRule {
    pub(crate) condition: Condition,
    pub(crate) next: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Test { variable: ReferencePath, test: Test },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Literal(Value),
    Path(ReferencePath),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeTest {
    Present,
    Null,
    String,
    Numeric,
    Boolean,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Compare {
        kind: Kind,
        relation: Relation,
        operand: Operand,
    },
    /// `StringMatches`: `*` matches any run of characters; `\*` and `\\`
    /// are literal.
    Matches(String),
    Is {
        test: TypeTest,
        expected: bool,
    },
}

/// Fields a rule may have besides its single comparison operator.
const RULE_FIELDS: &[&str] = &["Variable", "Next", "Comment", "And", "Or", "Not"];

impl Condition {
    /// Evaluates the condition on the effective input.
    pub(crate) fn evaluate(&self, input: &Value, context: &Value) -> Result<bool, StateError> {
        match self {
            Self::And(all) => {
                for condition in all {
                    if !condition.evaluate(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Self::Or(any) => {
                for condition in any {
                    if condition.evaluate(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Self::Not(inner) => Ok(!inner.evaluate(input, context)?),
            Self::Test { variable, test } => {
                let value = variable.select(input, context);
                if let Test::Is { test, expected } = test {
                    return Ok(type_test(*test, value) == *expected);
                }
                let value = value.ok_or_else(|| {
                    StateError::runtime(format!(
                        "Invalid path {variable}: the choice state's condition path references an invalid value"
                    ))
                })?;
                match test {
                    Test::Matches(pattern) => Ok(value
                        .as_str()
                        .is_some_and(|text| wildcard_match(pattern, text))),
                    Test::Compare {
                        kind,
                        relation,
                        operand,
                    } => {
                        let expected = match operand {
                            Operand::Literal(literal) => literal,
                            Operand::Path(path) => path.select(input, context).ok_or_else(|| {
                                StateError::runtime(format!(
                                    "Invalid path {path}: the choice state's comparison path references an invalid value"
                                ))
                            })?,
                        };
                        Ok(compare(*kind, value, expected).is_some_and(|o| relation.holds(o)))
                    }
                    Test::Is { .. } => Ok(false),
                }
            }
        }
    }
}

impl Relation {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Equals => ordering == Ordering::Equal,
            Self::LessThan => ordering == Ordering::Less,
            Self::GreaterThan => ordering == Ordering::Greater,
            Self::LessThanEquals => ordering != Ordering::Greater,
            Self::GreaterThanEquals => ordering != Ordering::Less,
        }
    }
}

/// Orders two values of the rule's kind; `None` when either has another type.
fn compare(kind: Kind, actual: &Value, expected: &Value) -> Option<Ordering> {
    match kind {
        Kind::String => Some(actual.as_str()?.cmp(expected.as_str()?)),
        Kind::Numeric => actual.as_f64()?.partial_cmp(&expected.as_f64()?),
        Kind::Boolean => Some(actual.as_bool()?.cmp(&expected.as_bool()?)),
    }
}

fn type_test(test: TypeTest, value: Option<&Value>) -> bool {
    match (test, value) {
        (TypeTest::Present, value) => value.is_some(),
        (_, None) => false,
        (TypeTest::Null, Some(v)) => v.is_null(),
        (TypeTest::String, Some(v)) => v.is_string(),
        (TypeTest::Numeric, Some(v)) => v.is_number(),
        (TypeTest::Boolean, Some(v)) => v.is_boolean(),
    }
}

/// Glob match where only `*` is special.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    // Resolve escapes first: `Some(c)` is a literal, `None` a wildcard.
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Some(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(None),
            other => tokens.push(Some(other)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic greedy matcher with one backtrack point: linear in practice.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(None) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Some(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(Option::is_none)
}

/// Parses the `Choices` array of a Choice state.
pub(crate) fn parse_choices(fields: &Fields<'_>) -> Result<Vec<ChoiceRule>, DefinitionError> {
    let items = match fields.get("Choices") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(fields.error("Choices", "must be a non-empty array")),
    };
    let mut rules = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let f = Fields::new(item, fields.child(&format!("Choices[{index}]")))?;
        let next = f.required_string("Next")?.to_owned();
        rules.push(ChoiceRule {
            condition: parse_condition(&f)?,
            next,
        });
    }
    Ok(rules)
}

fn parse_condition(f: &Fields<'_>) -> Result<Condition, DefinitionError> {
    let nested = |field: &str| -> Result<Vec<Condition>, DefinitionError> {
        match f.get(field) {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_nested(item, f.child(&format!("{field}[{index}]"))))
                .collect(),
            _ => Err(f.error(field, "must be a non-empty array of rules")),
        }
    };
    let operators: Vec<&str> = ["And", "Or", "Not"]
        .into_iter()
        .filter(|name| f.has(name))
        .collect();
    if f.has("Variable") || operators.is_empty() {
        return parse_test(f);
    }
    let [operator] = operators[..] else {
        return Err(DefinitionError::Invalid {
            location: f.location().to_owned(),
            message: "a rule has exactly one of And, Or, Not or Variable".to_owned(),
        });
    };
    f.only(&["Next", "Comment", operator])?;
    Ok(match operator {
        "And" => Condition::And(nested("And")?),
        "Or" => Condition::Or(nested("Or")?),
        _ => {
            let inner = f.get("Not").unwrap_or(&Value::Null);
            Condition::Not(Box::new(parse_nested(inner, f.child("Not"))?))
        }
    })
}

/// A rule inside `And`, `Or` or `Not`: like a top-level one, without `Next`.
fn parse_nested(value: &Value, location: String) -> Result<Condition, DefinitionError> {
    let f = Fields::new(value, location)?;
    if f.has("Next") {
        return Err(f.error("Next", "is only allowed on top-level choice rules"));
    }
    parse_condition(&f)
}

fn parse_test(f: &Fields<'_>) -> Result<Condition, DefinitionError> {
    let variable = f
        .path("Variable")?
        .ok_or_else(|| f.error("Variable", "is required (or use And, Or, Not)"))?;
    let operators: Vec<(&String, &Value)> = f
        .keys_and_values()
        .filter(|(key, _)| !RULE_FIELDS.contains(&key.as_str()))
        .collect();
    let [(name, operand)] = operators[..] else {
        return Err(DefinitionError::Invalid {
            location: f.location().to_owned(),
            message: "a rule with Variable has exactly one comparison operator".to_owned(),
        });
    };
    f.only(&["Variable", "Next", "Comment", name])?;
    let test = parse_operator(name, operand).map_err(|why| f.error(name, why))?;
    Ok(Condition::Test { variable, test })
}

fn parse_operator(name: &str, operand: &Value) -> Result<Test, String> {
    let type_test = match name {
        "IsPresent" => Some(TypeTest::Present),
        "IsNull" => Some(TypeTest::Null),
        "IsString" => Some(TypeTest::String),
        "IsNumeric" => Some(TypeTest::Numeric),
        "IsBoolean" => Some(TypeTest::Boolean),
        _ => None,
    };
    if let Some(test) = type_test {
        let expected = operand.as_bool().ok_or("must be true or false")?;
        return Ok(Test::Is { test, expected });
    }
    if name == "StringMatches" {
        let pattern = operand.as_str().ok_or("must be a string")?;
        return Ok(Test::Matches(pattern.to_owned()));
    }
    if name.starts_with("Timestamp") || name == "IsTimestamp" {
        return Err("timestamp comparisons are not supported by this interpreter".to_owned());
    }
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let (kind, relation) = if let Some(rest) = base.strip_prefix("String") {
        (Kind::String, rest)
    } else if let Some(rest) = base.strip_prefix("Numeric") {
        (Kind::Numeric, rest)
    } else if let Some(rest) = base.strip_prefix("Boolean") {
        (Kind::Boolean, rest)
    } else {
        return Err("is not a known comparison operator".to_owned());
    };
    let relation = match relation {
        "Equals" => Relation::Equals,
        "LessThan" if kind != Kind::Boolean => Relation::LessThan,
        "GreaterThan" if kind != Kind::Boolean => Relation::GreaterThan,
        "LessThanEquals" if kind != Kind::Boolean => Relation::LessThanEquals,
        "GreaterThanEquals" if kind != Kind::Boolean => Relation::GreaterThanEquals,
        _ => return Err("is not a known comparison operator".to_owned()),
    };
    let operand = if is_path {
        let text = operand.as_str().ok_or("must be a path string")?;
        Operand::Path(ReferencePath::parse(text)?)
    } else {
        let type_ok = match kind {
            Kind::String => operand.is_string(),
            Kind::Numeric => operand.is_number(),
            Kind::Boolean => operand.is_boolean(),
        };
        if !type_ok {
            return Err(format!("must be a {kind:?} value").to_lowercase());
        }
        Operand::Literal(operand.clone())
    };
    Ok(Test::Compare {
        kind,
        relation,
        operand,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn condition(rule: &Value) -> Condition {
        let f = Fields::new(rule, "test").expect("object");
        parse_condition(&f).expect("valid rule")
    }

    fn holds(rule: &Value, input: &Value) -> bool {
        condition(rule)
            .evaluate(input, &json!({}))
            .expect("evaluates")
    }

    #[test]
    fn string_matches_supports_wildcards_and_escapes() {
        assert!(wildcard_match("*.log", "app.log"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("a*b", "aXXc"));
        assert!(wildcard_match(r"a\*b", "a*b"));
        assert!(!wildcard_match(r"a\*b", "aXb"));
        assert!(wildcard_match(r"a\\b", r"a\b"));
    }

    #[test]
    fn numeric_and_string_relations() {
        let input = json!({"n": 5, "s": "m"});
        assert!(holds(
            &json!({"Variable": "$.n", "NumericEquals": 5.0}),
            &input
        ));
        assert!(holds(
            &json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            &input
        ));
        assert!(!holds(
            &json!({"Variable": "$.n", "NumericGreaterThan": 5}),
            &input
        ));
        assert!(holds(
            &json!({"Variable": "$.s", "StringGreaterThan": "a"}),
            &input
        ));
        assert!(holds(
            &json!({"Variable": "$.s", "StringLessThanEquals": "m"}),
            &input
        ));
    }

    #[test]
    fn wrong_type_does_not_match_and_missing_variable_is_runtime_error() {
        let input = json!({"n": "5"});
        assert!(!holds(
            &json!({"Variable": "$.n", "NumericEquals": 5}),
            &input
        ));
        let err = condition(&json!({"Variable": "$.gone", "NumericEquals": 5}))
            .evaluate(&input, &json!({}))
            .expect_err("missing variable");
        assert_eq!(err.error, "States.Runtime");
        assert!(!holds(
            &json!({"Variable": "$.gone", "IsPresent": true}),
            &input
        ));
    }

    #[test]
    fn rejects_malformed_rules() {
        for bad in [
            json!({"Variable": "$.a"}),
            json!({"Variable": "$.a", "StringEquals": 1}),
            json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}),
            json!({"Variable": "$.a", "BooleanLessThan": true}),
            json!({"Variable": "$.a", "TimestampEquals": "2020-01-01T00:00:00Z"}),
            json!({"Variable": "$.a", "Bogus": 1}),
            json!({"And": []}),
            json!({"And": [{"Variable": "$.a", "IsNull": true}], "Or": []}),
            json!({"Not": {"Variable": "$.a", "IsNull": true, "Next": "X"}}),
        ] {
            let f = Fields::new(&bad, "test").expect("object");
            assert!(parse_condition(&f).is_err(), "{bad} should be rejected");
        }
    }
}
