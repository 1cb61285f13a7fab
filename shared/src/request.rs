//! Reading requests: headers, bearer tokens, query and path parameters, and JSON bodies validated the way
//! the user service reports it (every problem at once, ajv's wording).

use lambda_http::{Body, Request, RequestExt};
use serde_json::{Map, Value};

use crate::error::Error;

pub const FINGERPRINT_HEADER: &str = "x-nb-fingerprint";

pub fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(request: &Request) -> Option<&str> {
    let value = header(request, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The path's segments, percent-decoded (`/users/a%20b` → `["users", "a b"]`), for routing inside a
/// function that serves several routes.
pub fn segments(request: &Request) -> Vec<String> {
    request
        .uri()
        .path()
        .trim_end_matches('/')
        .split('/')
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

pub fn path_param(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// All query parameters, first value of each.
pub fn query_params(request: &Request) -> Vec<(String, String)> {
    request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The body as JSON; `None` when there is no body at all.
pub fn json_body(request: &Request) -> Result<Option<Value>, Error> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => return Ok(None),
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => return Ok(None),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|_| {
        Error::invalid(
            "Validation Error",
            vec!["request body must be valid JSON".into()],
        )
    })
}

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
                return Err(Error::invalid(
                    "Validation Error",
                    vec!["request body must be object".into()],
                ));
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
            Err(Error::invalid("Validation Error", problems))
        }
    }
}

/// An integer query parameter within bounds, or the default when absent.
pub fn bounded(
    request: &Request,
    name: &str,
    default: usize,
    min: usize,
    max: usize,
    problems: &mut Vec<String>,
) -> usize {
    match query_param(request, name) {
        None => default,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n < min => {
                problems.push(format!("request query/{name} must be >= {min}"));
                default
            }
            Ok(n) if n > max => {
                problems.push(format!("request query/{name} must be <= {max}"));
                default
            }
            Ok(n) => n,
            Err(_) => {
                problems.push(format!("request query/{name} must be integer"));
                default
            }
        },
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
            Error::invalid(
                "Validation Error",
                vec![
                    "request body must have required property 'identityId'".into(),
                    "request body must have required property 'name'".into(),
                    "request body must NOT have additional properties".into(),
                ]
            )
        );
        let err = USER
            .check(Some(json!({"identityId": 1, "name": "x"})))
            .unwrap_err();
        assert_eq!(
            err,
            Error::invalid(
                "Validation Error",
                vec!["request body/identityId must be string".into()]
            )
        );
        assert!(
            USER.check(Some(json!({"identityId": "a", "name": "b"})))
                .is_ok()
        );
        assert!(USER.check(Some(json!([1]))).is_err());
    }
}
