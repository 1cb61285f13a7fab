//! Reading requests: headers, bearer tokens, query and path parameters, and JSON bodies (which the domain's
//! `validate` then judges).

use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;
use switchboard::Error;

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

/// A path parameter of the route (API Gateway decodes them); every route names the ones its handler reads.
pub fn path_param(request: &Request, name: &str) -> Result<String, Error> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
        .ok_or_else(|| Error::NotFound("Not Found".into()))
}

pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// The `cursor` query parameter of a listing: only one the listing issued is one, and an empty one never is.
pub fn cursor(request: &Request) -> Result<Option<String>, Error> {
    match query_param(request, "cursor") {
        Some(cursor) if cursor.is_empty() => Err(Error::bad_request("Invalid pagination cursor")),
        cursor => Ok(cursor),
    }
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
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|_| Error::validation(vec!["request body must be valid JSON".into()]))
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
