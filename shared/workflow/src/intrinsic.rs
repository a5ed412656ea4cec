//! Intrinsic functions used in payload templates (`"key.$": "States.Format('{}', $.x)"`).
//!
//! Supported: `States.Format`, `States.JsonToString`, `States.StringToJson`,
//! `States.Array`. Anything else is rejected when the definition is parsed.
//! Inside a string literal, `'`, `{`, `}` and `\` are escaped with `\`.

use serde_json::Value;

use crate::errors::StateError;
use crate::path::ReferencePath;

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Intrinsic {
    Format(Vec<Arg>),
    JsonToString(Box<Arg>),
    StringToJson(Box<Arg>),
    Array(Vec<Arg>),
}

/// One argument of an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// A quoted literal: `text` with escapes resolved, `raw` as written
    /// (`States.Format` needs to tell `\{` from a placeholder `{`).
    Str {
        text: String,
        raw: String,
    },
    /// A number, `true`, `false` or `null`.
    Literal(Value),
    Path(ReferencePath),
    Call(Box<Intrinsic>),
}

impl Intrinsic {
    /// Parses a whole expression such as `States.Array($.a, 'b')`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            pos: 0,
        };
        let call = parser
            .call()
            .map_err(|why| format!("intrinsic {text:?}: {why}"))?;
        parser.skip_whitespace();
        if parser.pos != parser.chars.len() {
            return Err(format!(
                "intrinsic {text:?}: unexpected text after the call"
            ));
        }
        Ok(call)
    }

    pub(crate) fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        match self {
            Self::Format(args) => format(args, input, context),
            Self::JsonToString(arg) => {
                let value = arg.evaluate(input, context)?;
                serde_json::to_string(&value)
                    .map(Value::String)
                    .map_err(|e| StateError::runtime(format!("States.JsonToString: {e}")))
            }
            Self::StringToJson(arg) => match arg.evaluate(input, context)? {
                Value::String(text) => serde_json::from_str(&text).map_err(|e| {
                    StateError::runtime(format!("States.StringToJson: invalid JSON {text:?}: {e}"))
                }),
                other => Err(StateError::runtime(format!(
                    "States.StringToJson expects a string, got {other}"
                ))),
            },
            Self::Array(args) => args
                .iter()
                .map(|arg| arg.evaluate(input, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }
}

impl Arg {
    fn evaluate(&self, input: &Value, context: &Value) -> Result<Value, StateError> {
        match self {
            Self::Str { text, .. } => Ok(Value::String(text.clone())),
            Self::Literal(value) => Ok(value.clone()),
            Self::Path(path) => path.select(input, context).cloned().ok_or_else(|| {
                StateError::runtime(format!("intrinsic argument path {path} selected nothing"))
            }),
            Self::Call(call) => call.evaluate(input, context),
        }
    }
}

fn format(args: &[Arg], input: &Value, context: &Value) -> Result<Value, StateError> {
    let Some((template, values)) = args.split_first() else {
        return Err(StateError::runtime("States.Format needs a template"));
    };
    // A literal template keeps its escapes; one read from a path is treated
    // as written, escapes included.
    let template = match template {
        Arg::Str { raw, .. } => raw.clone(),
        other => match other.evaluate(input, context)? {
            Value::String(text) => text,
            value => {
                return Err(StateError::runtime(format!(
                    "States.Format template must be a string, got {value}"
                )));
            }
        },
    };
    let mut values = values.iter();
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(escaped) = chars.next() {
                    out.push(escaped);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let arg = values.next().ok_or_else(|| {
                    StateError::runtime("States.Format has more {} placeholders than arguments")
                })?;
                match arg.evaluate(input, context)? {
                    Value::String(text) => out.push_str(&text),
                    other => out.push_str(&other.to_string()),
                }
            }
            other => out.push(other),
        }
    }
    if values.next().is_some() {
        return Err(StateError::runtime(
            "States.Format has more arguments than {} placeholders",
        ));
    }
    Ok(Value::String(out))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, wanted: char) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() == Some(wanted) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {wanted:?} at position {}", self.pos))
        }
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.skip_whitespace();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        self.expect('(')?;
        let mut args = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.skip_whitespace();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' at position {}", self.pos)),
                }
            }
        }
        build(&name, args)
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_whitespace();
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => {
                let token = self.path_token();
                ReferencePath::parse(&token).map(Arg::Path)
            }
            Some(_) if self.chars[self.pos..].starts_with(&['S', 't', 'a', 't', 'e', 's', '.']) => {
                Ok(Arg::Call(Box::new(self.call()?)))
            }
            Some(_) => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c != ',' && c != ')' && !c.is_whitespace())
                {
                    self.pos += 1;
                }
                let token: String = self.chars[start..self.pos].iter().collect();
                match serde_json::from_str::<Value>(&token) {
                    Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                        Ok(Arg::Literal(value))
                    }
                    _ => Err(format!("unexpected argument {token:?}")),
                }
            }
            None => Err("missing argument".to_owned()),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1; // opening quote
        let mut text = String::new();
        let mut raw = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated string literal".to_owned()),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Arg::Str { text, raw });
                }
                Some('\\') => {
                    let escaped = self
                        .chars
                        .get(self.pos + 1)
                        .copied()
                        .ok_or("unterminated escape in string literal")?;
                    text.push(escaped);
                    raw.push('\\');
                    raw.push(escaped);
                    self.pos += 2;
                }
                Some(c) => {
                    text.push(c);
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A path runs to the next top-level `,`, `)` or space; brackets and
    /// quotes inside it (`$['a, b']`) do not end it.
    fn path_token(&mut self) -> String {
        let start = self.pos;
        let mut quote = None;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(_), '\\') => self.pos += 1,
                (Some(q), c) if c == q => quote = None,
                (None, '\'' | '"') => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, ',' | ')') if depth == 0 => break,
                (None, c) if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let end = self.pos.min(self.chars.len());
        self.chars[start..end].iter().collect()
    }
}

fn build(name: &str, mut args: Vec<Arg>) -> Result<Intrinsic, String> {
    let single = |args: &mut Vec<Arg>| {
        if args.len() == 1 {
            Ok(Box::new(args.remove(0)))
        } else {
            Err(format!("{name} takes exactly one argument"))
        }
    };
    match name {
        "States.Format" if args.is_empty() => Err("States.Format needs a template".to_owned()),
        "States.Format" => Ok(Intrinsic::Format(args)),
        "States.JsonToString" => single(&mut args).map(Intrinsic::JsonToString),
        "States.StringToJson" => single(&mut args).map(Intrinsic::StringToJson),
        "States.Array" => Ok(Intrinsic::Array(args)),
        "" => Err("expected a function name".to_owned()),
        other => Err(format!("intrinsic function {other} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn eval(text: &str, input: &Value) -> Result<Value, StateError> {
        Intrinsic::parse(text)
            .expect("parses")
            .evaluate(input, &json!({"State": {"Name": "S"}}))
    }

    #[test]
    fn format_fills_placeholders_in_order() {
        let input = json!({"id": "o-1", "n": 3, "ok": true});
        assert_eq!(
            eval(
                "States.Format('Order {} has {} items ({})', $.id, $.n, $.ok)",
                &input
            ),
            Ok(json!("Order o-1 has 3 items (true)"))
        );
    }

    #[test]
    fn format_keeps_escaped_braces_and_quotes_literal() {
        assert_eq!(
            eval(
                r"States.Format('it\'s \{{}\} in \\', $$.State.Name)",
                &json!({})
            ),
            Ok(json!(r"it's {S} in \"))
        );
    }

    #[test]
    fn format_with_wrong_argument_count_is_a_runtime_error() {
        let err = eval("States.Format('{} {}', 'a')", &json!({})).expect_err("too few");
        assert_eq!(err.error, "States.Runtime");
        let err = eval("States.Format('{}', 'a', 'b')", &json!({})).expect_err("too many");
        assert_eq!(err.error, "States.Runtime");
    }

    #[test]
    fn json_to_string_and_back() {
        let input = json!({"a": {"b": [1, "x"]}});
        let text = eval("States.JsonToString($.a)", &input).expect("to string");
        assert_eq!(text, json!(r#"{"b":[1,"x"]}"#));
        assert_eq!(
            eval("States.StringToJson($.s)", &json!({"s": r#"{"b":[1]}"#})),
            Ok(json!({"b": [1]}))
        );
        assert_eq!(
            eval("States.StringToJson('not json')", &json!({}))
                .expect_err("bad json")
                .error,
            "States.Runtime"
        );
    }

    #[test]
    fn array_nests_calls_paths_and_literals() {
        let input = json!({"a": 1, "b c": "two"});
        assert_eq!(
            eval(
                "States.Array($.a, $['b c'], 'x, y', 2.5, true, null, States.Array())",
                &input
            ),
            Ok(json!([1, "two", "x, y", 2.5, true, null, []]))
        );
    }

    #[test]
    fn missing_path_argument_is_a_runtime_error() {
        assert_eq!(
            eval("States.Array($.nope)", &json!({}))
                .expect_err("missing")
                .error,
            "States.Runtime"
        );
    }

    #[test]
    fn rejects_unknown_functions_and_bad_syntax() {
        for bad in [
            "States.UUID()",
            "States.Format(",
            "States.Format('x'",
            "States.Array(1) trailing",
            "States.JsonToString($.a, $.b)",
            "States.Array(bogus)",
            "States.Format()",
        ] {
            assert!(Intrinsic::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
