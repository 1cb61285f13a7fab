//! Checking JSON bodies the way the user service reports it: every problem at once, in ajv's words. Plain
//! JSON in, the domain error out: the HTTP face reads the body, the rules here judge it.

use serde_json::{Map, Value};

use crate::error::Error;

/// A field that is a non-empty string, or a number (read as its text): how App Connect's ids arrive.
pub fn text(value: &Value, name: &str) -> Option<String> {
    match value.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// JSON types a field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Boolean,
    Object,
    /// An object or null.
    NullableObject,
    Any,
}

impl Kind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Kind::String => value.is_string(),
            Kind::Integer => value.as_i64().is_some(),
            Kind::Boolean => value.is_boolean(),
            Kind::Object => value.is_object(),
            Kind::NullableObject => value.is_object() || value.is_null(),
            Kind::Any => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Boolean => "boolean",
            Kind::Object => "object",
            Kind::NullableObject => "object,null",
            Kind::Any => "any",
        }
    }
}

/// A body schema: each field's kind and whether it is required; no other fields are allowed.
pub struct Schema<'a> {
    pub fields: &'a [(&'a str, Kind, bool)],
    /// Accept fields not listed (hoodie's free-form properties).
    pub open: bool,
}

impl Schema<'_> {
    /// Checks `body` and lists every problem, as ajv does: `request body must have required property
    /// 'name'`, `request body must NOT have additional properties`, `request body/name must be string`.
    pub fn check(&self, body: Option<Value>) -> Result<Map<String, Value>, Error> {
        let body = match body {
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(Error::validation(vec![
                    "request body must be object".into(),
                ]));
            }
            None => Map::new(),
        };
        let mut problems = Vec::new();
        for (name, kind, required) in self.fields {
            match body.get(*name) {
                None if *required => {
                    problems.push(format!("request body must have required property '{name}'"))
                }
                Some(value) if !kind.accepts(value) => {
                    problems.push(format!("request body/{name} must be {}", kind.name()))
                }
                _ => {}
            }
        }
        if !self.open
            && body
                .keys()
                .any(|k| !self.fields.iter().any(|(name, ..)| name == k))
        {
            problems.push("request body must NOT have additional properties".into());
        }
        if problems.is_empty() {
            Ok(body)
        } else {
            Err(Error::validation(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: Schema = Schema {
        fields: &[
            ("identityId", Kind::String, true),
            ("name", Kind::String, true),
        ],
        open: false,
    };

    #[test]
    fn lists_every_problem_in_ajv_words() {
        let err = USER.check(Some(json!({"extra": 1}))).unwrap_err();
        assert_eq!(
            err,
            Error::validation(vec![
                "request body must have required property 'identityId'".into(),
                "request body must have required property 'name'".into(),
                "request body must NOT have additional properties".into(),
            ])
        );
        let err = USER
            .check(Some(json!({"identityId": 1, "name": "x"})))
            .unwrap_err();
        assert_eq!(
            err,
            Error::validation(vec!["request body/identityId must be string".into()])
        );
        assert!(
            USER.check(Some(json!({"identityId": "a", "name": "b"})))
                .is_ok()
        );
        assert!(USER.check(Some(json!([1]))).is_err());
    }
}
