//! `POST /callLog` (one log per call session, however many requests race), `GET /callLog?sessionIds=`
//! (one batch read) and `PATCH /callLog`, App Connect's shapes; with them `POST /callLog/cacheNote` and
//! `PUT /callDisposition`, which feed and edit the same call logs (same reads, writes and IAM).

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use switchboard::Result;
use switchboard::config::Config;
use switchboard::crm::Crm;
use switchboard::crm::{CallLog, CallLogPatch, CrmUser, LoggedCall, Owner, notes, return_message};
use switchboard::error::Error;
use switchboard::store::Store;
use switchboard::validate::text;
use switchboard_api::http::Family;
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// The most session ids one `GET /callLog` answers (App Connect answers only the first five; the extension
/// takes a missing entry for "not logged" and would log those calls again).
pub const MAX_SESSION_IDS: usize = 100;

/// The CRM service: its connections, tokens and connector.
pub type State = Crm;

pub fn state(config: &Config, store: Arc<dyn Store>) -> State {
    Crm::new(store, config)
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Crm,
    routes: &[
        route!("GET /callLog", find),
        route!("POST /callLog", create),
        route!("PATCH /callLog", update),
        route!("POST /callLog/cacheNote", cache_note),
        route!("PUT /callDisposition", disposition),
    ],
};

fn body(request: &Request) -> Result<Value> {
    match request::json_body(request) {
        Ok(Some(value @ Value::Object(_))) => Ok(value),
        _ => Err(Error::bad_request("Invalid JSON body")),
    }
}

/// What `POST /callLog` asks for: a log, or (without `contactId`) App Connect's "contact not found".
enum NewLog {
    Log(Box<CallLog>),
    NoContact(String),
}

fn new_log(request: &Request) -> Result<NewLog> {
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
        return Ok(NewLog::NoContact(format!(
            "Contact not found for number {}",
            theirs.clone().unwrap_or_default()
        )));
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
    Ok(NewLog::Log(Box::new(CallLog {
        session_id,
        telephony_session_id: text(info, "telephonySessionId"),
        contact_id,
        contact_name,
        contact_type: text(&body, "contactType"),
        subject,
        // Empty: the note cached for the session, if any (see `Crm::log_call`).
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
    })))
}

async fn create(crm: &State, request: &Request) -> Result<Response<Body>> {
    let log = match caller::crm_input(crm, request, new_log(request)).await? {
        NewLog::Log(log) => *log,
        NewLog::NoContact(message) => return caller::crm_warning(crm, request, &message).await,
    };
    let session_id = log.session_id.clone();
    let (refreshed, logged) = crm.log_call(&caller::crm_token(request)?, log).await?;
    let answer = match logged {
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
    Ok(caller::crm_answer(&refreshed, &answer))
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

/// The session ids `GET /callLog` asks about (`None` when it names none).
fn session_ids(request: &Request) -> Result<Option<Vec<String>>> {
    let Some(ids) = request::query_param(request, "sessionIds").filter(|s| !s.trim().is_empty())
    else {
        return Ok(None);
    };
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
    Ok(Some(ids))
}

async fn find(crm: &State, request: &Request) -> Result<Response<Body>> {
    let Some(ids) = caller::crm_input(crm, request, session_ids(request)).await? else {
        return caller::crm_warning(crm, request, "Missing sessionIds").await;
    };
    let details = request::query_param(request, "requireDetails").as_deref() == Some("true");
    // Session id 0 is App Connect's "no session": it never matches.
    let wanted: Vec<String> = ids
        .iter()
        .filter(|id| id.as_str() != "0")
        .cloned()
        .collect();
    // The logs are read while the token is checked.
    let (user, found) = caller::crm_user_while(crm, request, |owner| async move {
        match wanted.is_empty() {
            true => Ok(Vec::new()),
            false => crm.connector.call_logs(&owner, &wanted).await,
        }
    })
    .await?;
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
    Ok(caller::crm_answer(
        &user.refreshed,
        &json!({ "successful": true, "logs": logs }),
    ))
}

async fn update(crm: &State, request: &Request) -> Result<Response<Body>> {
    let user = caller::crm_user(crm, request).await?;
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
    crm: &State,
    user: &CrmUser,
    patch: &CallLogPatch,
    missing: Value,
    updated: impl FnOnce(&CallLog) -> Value,
) -> Result<Response<Body>> {
    let answer = match crm
        .connector
        .update_call_log(&Owner::checked(user), patch)
        .await?
    {
        Some(log) => updated(&log),
        None => missing,
    };
    Ok(caller::crm_answer(&user.refreshed, &answer))
}

/// `POST /callLog/cacheNote`: `{sessionId, note}`, kept for a day for the log of that call.
async fn cache_note(crm: &State, request: &Request) -> Result<Response<Body>> {
    // The note cached before, if any, is read with the token check: its version guards the write.
    let parsed = body(request);
    let session = parsed.as_ref().ok().and_then(|b| text(b, "sessionId"));
    let (user, read) = caller::crm_user_with(crm, request, |owner| {
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
    Ok(caller::crm_answer(
        &user.refreshed,
        &json!({ "successful": true }),
    ))
}

/// `PUT /callDisposition`: `{sessionId, dispositions, additionalSubmission?}` replace those of the call log.
async fn disposition(crm: &State, request: &Request) -> Result<Response<Body>> {
    let user = caller::crm_user(crm, request).await?;
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
