//! The HTTP face shared by every function: response builders and the three error envelopes.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use switchboard::error::{Error, RETRY_AFTER_SECONDS};

/// The response body a 500 carries in every family: the cause goes to the log, never to the client.
pub const INTERNAL_MESSAGE: &str = "Internal server error";
/// The message of a 503 in every family, sent with `Retry-After`.
pub const UNAVAILABLE_MESSAGE: &str = "Service temporarily unavailable; try again shortly";

/// The API families, each with its own error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// CRM extension API (App Connect): a 4xx is plain text with the message, as App Connect's Express
    /// server sends it; business outcomes are 200 with `successful`/`returnMessage` (built by the routes).
    Crm,
    /// User service (Nodeblocks) and accounts: `{"error": {"message", "data"?}}`.
    Users,
    /// Server API (ContactsManager): `{"detail": "..."}`.
    Server,
}

fn build(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A 200 page of a cursor-paginated listing: the next page's cursor, if any, in `x-next-cursor`.
pub fn page<T: Serialize>(items: &T, next: Option<String>) -> Response<Body> {
    let mut response = json(200, items);
    if let Some(next) = next.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert("x-next-cursor", next);
    }
    response
}

pub fn json<T: Serialize>(code: u16, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => build(status(code), "application/json", Body::Text(text)),
        Err(e) => error(
            Family::Users,
            Error::Internal(format!("serialising a response: {e}")),
        ),
    }
}

pub fn text(code: u16, value: impl Into<String>) -> Response<Body> {
    build(
        status(code),
        "text/plain; charset=utf-8",
        Body::Text(value.into()),
    )
}

pub fn empty(code: u16) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status(code);
    response
}

/// Renders `error` in `family`'s envelope. A 5xx is logged here with its cause and answered generically.
pub fn error(family: Family, error: Error) -> Response<Body> {
    error_as(family, error, INTERNAL_MESSAGE)
}

/// As [`error`], with the route's own 500 message (the user service names the operation that failed).
pub fn error_as(family: Family, error: Error, internal_message: &str) -> Response<Body> {
    let code = error.status();
    let message = match &error {
        Error::Internal(cause) => {
            tracing::error!(cause = %cause, "request failed");
            internal_message.to_owned()
        }
        Error::Unavailable(cause) => {
            tracing::warn!(cause = %cause, "dependency unavailable");
            UNAVAILABLE_MESSAGE.to_owned()
        }
        other => other.to_string(),
    };
    let retry = matches!(error, Error::Unavailable(_));
    let mut response = match family {
        Family::Crm => text(code, message),
        Family::Server => json(code, &json!({ "detail": message })),
        Family::Users => match error {
            Error::BadRequest { details, .. } if !details.is_empty() => json(
                code,
                &json!({ "error": { "message": message, "data": details } }),
            ),
            _ => json(code, &json!({ "error": { "message": message } })),
        },
    };
    if retry {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response<Body>) -> String {
        String::from_utf8(response.body().to_vec()).unwrap()
    }

    #[test]
    fn users_envelope_carries_every_detail() {
        let r = error(
            Family::Users,
            Error::validation(vec!["a".into(), "b".into()]),
        );
        assert_eq!(r.status(), 400);
        let v: serde_json::Value = serde_json::from_str(&body(&r)).unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "Validation Error", "data": ["a", "b"]}})
        );
        let r = error(Family::Users, Error::NotFound("User not found".into()));
        assert_eq!(body(&r), r#"{"error":{"message":"User not found"}}"#);
    }

    #[test]
    fn server_envelope_is_detail() {
        let r = error(
            Family::Server,
            Error::Unauthorized("Invalid API key".into()),
        );
        assert_eq!(r.status(), 401);
        assert_eq!(body(&r), r#"{"detail":"Invalid API key"}"#);
    }

    #[test]
    fn crm_envelope_is_plain_text() {
        let r = error(
            Family::Crm,
            Error::bad_request("Please go to Settings and authorize CRM platform"),
        );
        assert_eq!(r.status(), 400);
        assert_eq!(body(&r), "Please go to Settings and authorize CRM platform");
        assert!(
            r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
    }

    #[test]
    fn outages_are_503_with_retry_after_in_every_envelope() {
        let cause = || {
            Error::from(switchboard::store::StoreError::Unavailable(
                "ThrottlingException: rate of requests exceeds the allowed throughput".into(),
            ))
        };
        let expected = [
            (Family::Crm, UNAVAILABLE_MESSAGE.to_owned()),
            (
                Family::Users,
                json!({"error": {"message": UNAVAILABLE_MESSAGE}}).to_string(),
            ),
            (
                Family::Server,
                json!({"detail": UNAVAILABLE_MESSAGE}).to_string(),
            ),
        ];
        for (family, body_text) in expected {
            let r = error(family, cause());
            assert_eq!(r.status(), 503);
            assert_eq!(r.headers()[header::RETRY_AFTER], "2");
            assert_eq!(body(&r), body_text);
        }
    }

    #[test]
    fn a_store_failure_during_a_token_check_is_never_401() {
        let failure = switchboard::identity::AuthFailure::Store(
            switchboard::store::StoreError::Unavailable("dispatch failure: io error".into()),
        );
        assert_eq!(Error::from(failure).status(), 503);
        assert_eq!(
            Error::from(switchboard::identity::AuthFailure::Invalid).status(),
            401
        );
    }

    #[test]
    fn limits_both_stores_enforce_are_400() {
        for limit in [
            switchboard::store::StoreError::EmptyKey,
            switchboard::store::StoreError::TooLarge,
        ] {
            let r = error(Family::Users, Error::from(limit));
            assert_eq!(r.status(), 400);
        }
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        for family in [Family::Crm, Family::Users, Family::Server] {
            let r = error(
                family,
                Error::from(switchboard::store::StoreError::Failed(
                    "ResourceNotFoundException: table secret-table".into(),
                )),
            );
            assert_eq!(r.status(), 500);
            let text = body(&r);
            assert!(text.contains(INTERNAL_MESSAGE), "{text}");
            assert!(
                !text.contains("secret-table") && !text.contains("ResourceNotFound"),
                "{text}"
            );
        }
    }
}
