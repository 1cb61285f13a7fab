//! `POST /callLog` (one log per call session, however many requests race), `GET /callLog?sessionIds=`
//! (one batch read) and `PATCH /callLog`, App Connect's shapes; with them `POST /callLog/cacheNote` and
//! `PUT /callDisposition`, which feed and edit the same call logs (same reads, writes and IAM).

use std::sync::Arc;

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use switchboard::Result;
use switchboard::crm::Crm;
use switchboard::crm::{self, CallLog, CallLogPatch, CrmUser, LoggedCall, notes, return_message};
use switchboard::error::Error;
use switchboard::http::{self, Family};
use switchboard::request::{self, text};

/// The most session ids one `GET /callLog` answers (App Connect answers only the first five; the extension
/// takes a missing entry for "not logged" and would log those calls again).
pub const MAX_SESSION_IDS: usize = 100;

pub async fn handle(crm: Arc<Crm>, request: Request) -> Response<Body> {
    let result = match (request.method(), request.uri().path().trim_end_matches('/')) {
        (&Method::GET, "/callLog") => find(&crm, &request).await,
        (&Method::POST, "/callLog") => create(&crm, &request).await,
        (&Method::PATCH, "/callLog") => update(&crm, &request).await,
        (&Method::POST, "/callLog/cacheNote") => cache_note(&crm, &request).await,
        (&Method::PUT, "/callDisposition") => disposition(&crm, &request).await,
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

async fn create(crm: &Crm, request: &Request) -> Result<Response<Body>> {
    // A log without a note takes the one cached for its session: read with the token check, one round trip.
    let parsed = body(request);
    let note_session = parsed
        .as_ref()
        .ok()
        .filter(|b| text(b, "note").is_none())
        .and_then(|b| b.get("logInfo"))
        .and_then(|info| text(info, "sessionId"));
    let (user, extra) = crm
        .authenticate_with(request, |owner| {
            note_session
                .iter()
                .map(|session| notes::cached_note_key(owner, session))
                .collect()
        })
        .await?;
    let body = parsed?;
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
    let note = match text(&body, "note") {
        Some(note) => note,
        None => notes::cached_note(&extra)?.unwrap_or_default(),
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
        note,
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
    let answer = match crm.connector.create_call_log(&user.identity, log).await? {
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
        "dispositions": log.dispositions,
    })
}

async fn find(crm: &Crm, request: &Request) -> Result<Response<Body>> {
    let user = crm.authenticate(request).await?;
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
        .collect();
    if ids.len() > MAX_SESSION_IDS {
        return Err(Error::bad_request(format!(
            "At most {MAX_SESSION_IDS} sessionIds"
        )));
    }
    // Session id 0 is App Connect's "no session": it never matches.
    let wanted: Vec<String> = ids
        .iter()
        .filter(|id| id.as_str() != "0")
        .cloned()
        .collect();
    let found = if wanted.is_empty() {
        Vec::new()
    } else {
        crm.connector.call_logs(&user.identity.id, &wanted).await?
    };
    let logs: Vec<Value> = ids
        .iter()
        .map(
            |id| match found.iter().find(|log| log.session_id == *id && id != "0") {
                Some(log) => {
                    let mut entry = json!({
                        "sessionId": id,
                        "matched": true,
                        "logId": log.log_id,
                        "contact": { "id": log.contact_id, "name": log.contact_name },
                    });
                    if details {
                        entry["logData"] = log_data(log);
                    }
                    entry
                }
                None => json!({ "sessionId": id, "matched": false }),
            },
        )
        .collect();
    Ok(crm::respond(
        &user,
        &json!({ "successful": true, "logs": logs }),
    ))
}

async fn update(crm: &Crm, request: &Request) -> Result<Response<Body>> {
    let user = crm.authenticate(request).await?;
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
        ..CallLogPatch::default()
    };
    patch_log(crm, &user, &patch, json!({ "successful": false }), |log| {
        json!({
            "successful": true,
            "logId": log.log_id,
            "updatedNote": log.note,
            "returnMessage": return_message("Call log updated.", "success", 2000),
        })
    })
    .await
}

/// Applies `patch` to the caller's log and answers `updated(log)`, or `missing` when there is no such log.
async fn patch_log(
    crm: &Crm,
    user: &CrmUser,
    patch: &CallLogPatch,
    missing: Value,
    updated: impl FnOnce(&CallLog) -> Value,
) -> Result<Response<Body>> {
    let answer = match crm.connector.update_call_log(&user.identity, patch).await? {
        Some(log) => updated(&log),
        None => missing,
    };
    Ok(crm::respond(user, &answer))
}

/// `POST /callLog/cacheNote`: `{sessionId, note}`, kept for a day for the log of that call.
async fn cache_note(crm: &Crm, request: &Request) -> Result<Response<Body>> {
    // The note cached before, if any, is read with the token check: its version guards the write.
    let parsed = body(request);
    let session = parsed.as_ref().ok().and_then(|b| text(b, "sessionId"));
    let (user, read) = crm
        .authenticate_with(request, |owner| {
            session
                .iter()
                .map(|s| notes::cached_note_key(owner, s))
                .collect()
        })
        .await?;
    let body = parsed?;
    let session_id =
        text(&body, "sessionId").ok_or_else(|| Error::bad_request("Missing sessionId"))?;
    let note = body
        .get("note")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Missing note"))?;
    crm.cache_note(&user.identity.id, &session_id, note, &read)
        .await?;
    Ok(crm::respond(&user, &json!({ "successful": true })))
}

/// `PUT /callDisposition`: `{sessionId, dispositions, additionalSubmission?}` replace those of the call log.
async fn disposition(crm: &Crm, request: &Request) -> Result<Response<Body>> {
    let user = crm.authenticate(request).await?;
    let body = body(request)?;
    let session_id =
        text(&body, "sessionId").ok_or_else(|| Error::bad_request("Missing sessionId"))?;
    let dispositions = body
        .get("dispositions")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| Error::bad_request("Missing dispositions"))?;
    let additional_submission = match body.get("additionalSubmission") {
        None | Some(Value::Null) => None,
        Some(Value::Object(fields)) => Some(fields.clone()),
        Some(_) => return Err(Error::bad_request("additionalSubmission must be an object")),
    };
    let patch = CallLogPatch {
        session_id: session_id.clone(),
        dispositions: Some(dispositions),
        additional_submission,
        ..CallLogPatch::default()
    };
    let missing = json!({
        "successful": false,
        "returnMessage": return_message(&format!("No call log for session {session_id}"), "warning", 3000),
    });
    patch_log(crm, &user, &patch, missing, |log| {
        json!({
            "successful": true,
            "logId": log.log_id,
            "returnMessage": return_message("Call disposition updated.", "success", 2000),
        })
    })
    .await
}
