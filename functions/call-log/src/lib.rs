//! `POST /callLog` (one log per call session, however many requests race), `GET /callLog?sessionIds=`
//! (one batch read) and `PATCH /callLog`, App Connect's shapes.

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use switchboard::crm::{self, CallLog, CallLogPatch, LoggedCall, return_message};
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::request::{self, text};
use switchboard::{App, Result};

/// App Connect reads only the first five session ids of a `GET /callLog`.
pub const MAX_SESSION_IDS: usize = 5;

pub async fn handle(app: Arc<App>, request: Request) -> Response<Body> {
    let result = match *request.method() {
        Method::GET => find(&app, &request).await,
        Method::POST => create(&app, &request).await,
        Method::PATCH => update(&app, &request).await,
        _ => Err(Error::NotFound("Not Found".into())),
    };
    result.unwrap_or_else(|e| http::error(Family::Crm, e))
}

fn body(request: &Request) -> Result<Value> {
    match request::json_body(request) {
        Ok(Some(value @ Value::Object(_))) => Ok(value),
        _ => Err(Error::bad_request("Invalid JSON body")),
    }
}

async fn create(app: &App, request: &Request) -> Result<Response<Body>> {
    let user = app.crm.authenticate(request).await?;
    let body = body(request)?;
    let info = body
        .get("logInfo")
        .filter(|i| i.is_object())
        .ok_or_else(|| Error::bad_request("Missing logInfo"))?;
    let session_id =
        text(info, "sessionId").ok_or_else(|| Error::bad_request("Missing logInfo.sessionId"))?;
    let direction = text(info, "direction");
    let number = |side: &str| info.get(side).and_then(|p| text(p, "phoneNumber"));
    let (from, to) = (number("from"), number("to"));
    let Some(contact_id) = text(&body, "contactId") else {
        let theirs = if direction.as_deref() == Some("Inbound") {
            &from
        } else {
            &to
        };
        let message = format!(
            "Contact not found for number {}",
            theirs.clone().unwrap_or_default()
        );
        return Ok(crm::respond(
            &user,
            &json!({ "successful": false, "returnMessage": return_message(&message, "warning", 3000) }),
        ));
    };
    let contact_name = text(&body, "contactName");
    let subject = text(info, "customSubject").unwrap_or_else(|| {
        let way = if direction.as_deref() == Some("Inbound") {
            "from"
        } else {
            "to"
        };
        format!(
            "{} call {way} {}",
            direction.as_deref().unwrap_or("Outbound"),
            contact_name.as_deref().unwrap_or("unknown contact")
        )
    });
    let log = CallLog {
        session_id: session_id.clone(),
        telephony_session_id: text(info, "telephonySessionId"),
        contact_id,
        contact_name,
        contact_type: text(&body, "contactType"),
        subject,
        note: text(&body, "note").unwrap_or_default(),
        direction,
        from,
        to,
        start_time: info.get("startTime").cloned(),
        duration: info.get("duration").cloned(),
        result: text(info, "result"),
        recording_link: info.get("recording").and_then(|r| text(r, "link")),
        additional_submission: body
            .get("additionalSubmission")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new),
        ..CallLog::default()
    };
    let answer = match app
        .crm
        .connector
        .create_call_log(&user.identity.id, log)
        .await?
    {
        LoggedCall::Created(log_id) => json!({
            "successful": true,
            "logId": log_id,
            "returnMessage": return_message("Call logged", "success", 2000),
        }),
        LoggedCall::Exists => json!({
            "successful": false,
            "returnMessage": return_message(&format!("Existing log for session {session_id}"), "warning", 3000),
        }),
    };
    Ok(crm::respond(&user, &answer))
}

fn log_data(log: &CallLog) -> Value {
    json!({
        "subject": log.subject,
        "note": log.note,
        "contactId": log.contact_id,
        "contactName": log.contact_name,
        "direction": log.direction,
        "from": log.from,
        "to": log.to,
        "startTime": log.start_time,
        "duration": log.duration,
        "result": log.result,
        "recordingLink": log.recording_link,
        "additionalSubmission": log.additional_submission,
    })
}

async fn find(app: &App, request: &Request) -> Result<Response<Body>> {
    let user = app.crm.authenticate(request).await?;
    let Some(ids) = request::query_param(request, "sessionIds").filter(|s| !s.trim().is_empty())
    else {
        return Ok(crm::respond(
            &user,
            &json!({ "successful": false, "returnMessage": return_message("Missing sessionIds", "warning", 3000) }),
        ));
    };
    let details = request::query_param(request, "requireDetails").as_deref() == Some("true");
    let ids: Vec<String> = ids
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .take(MAX_SESSION_IDS)
        .collect();
    // Session id 0 is App Connect's "no session": it never matches.
    let wanted: Vec<String> = ids
        .iter()
        .filter(|id| id.as_str() != "0")
        .cloned()
        .collect();
    let found = if wanted.is_empty() {
        Vec::new()
    } else {
        app.crm
            .connector
            .call_logs(&user.identity.id, &wanted)
            .await?
    };
    let logs: Vec<Value> = ids
        .iter()
        .map(|id| match found.iter().find(|log| log.session_id == *id && id != "0") {
            Some(log) if details => json!({ "sessionId": id, "matched": true, "logId": log.log_id, "logData": log_data(log) }),
            Some(log) => json!({ "sessionId": id, "matched": true, "logId": log.log_id }),
            None => json!({ "sessionId": id, "matched": false }),
        })
        .collect();
    Ok(crm::respond(
        &user,
        &json!({ "successful": true, "logs": logs }),
    ))
}

async fn update(app: &App, request: &Request) -> Result<Response<Body>> {
    let user = app.crm.authenticate(request).await?;
    let body = body(request)?;
    let session_id =
        text(&body, "sessionId").ok_or_else(|| Error::bad_request("Missing sessionId"))?;
    let patch = CallLogPatch {
        session_id,
        subject: text(&body, "subject"),
        note: body.get("note").and_then(Value::as_str).map(str::to_owned),
        recording_link: text(&body, "recordingLink"),
        start_time: body.get("startTime").filter(|v| !v.is_null()).cloned(),
        duration: body.get("duration").filter(|v| !v.is_null()).cloned(),
        result: text(&body, "result"),
    };
    let answer = match app
        .crm
        .connector
        .update_call_log(&user.identity.id, &patch)
        .await?
    {
        Some(log) => json!({
            "successful": true,
            "logId": log.log_id,
            "updatedNote": log.note,
            "returnMessage": return_message("Call log updated.", "success", 2000),
        }),
        None => json!({ "successful": false }),
    };
    Ok(crm::respond(&user, &answer))
}
