//! `GET /contact` (match a number, with every `overridingFormat` variant) and `POST /contact` (create one,
//! matchable at once), App Connect's shapes.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::sync::Arc;

use switchboard::Result;
use switchboard::config::Config;
use switchboard::crm::Crm;
use switchboard::crm::{Contact, PhoneSearch, phone, return_message};
use switchboard::error::Error;
use switchboard::store::Store;
use switchboard_api::http::Family;
use switchboard_api::route::Routes;
use switchboard_api::{caller, request, route};

/// The CRM service: its connections, tokens and connector.
pub type State = Crm;

pub fn state(config: &Config, store: Arc<dyn Store>) -> State {
    Crm::new(store, config)
}

pub static ROUTES: Routes<State> = Routes {
    family: Family::Crm,
    routes: &[
        route!("GET /contact", find),
        route!("POST /contact", create),
    ],
};

/// Always the last entry of a match list: the extension's "create" choice.
fn placeholder() -> Value {
    json!({ "id": "createNewContact", "name": "Create new contact...", "additionalInfo": null, "isNewContact": true })
}

fn view(contact: &Contact) -> Value {
    json!({
        "id": contact.id,
        "name": contact.name,
        "type": contact.kind,
        "phone": contact.phone,
        "additionalInfo": null,
    })
}

/// The number to match and its `overridingFormat` variants.
fn search(request: &Request) -> Result<PhoneSearch> {
    let raw = request::query_param(request, "phoneNumber")
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| Error::bad_request("Missing phoneNumber"))?;
    let searched = phone::parse_searched(&raw)
        .ok_or_else(|| Error::bad_request(format!("Invalid phoneNumber: {}", raw.trim())))?;
    let formats = request::query_param(request, "overridingFormat").unwrap_or_default();
    let variants = formats
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .filter_map(|f| phone::fill(f, &searched.national))
        .collect();
    Ok(PhoneSearch { searched, variants })
}

async fn find(crm: &State, request: &Request) -> Result<Response<Body>> {
    let search = caller::crm_input(crm, request, search(request)).await?;
    // The match is read while the token is checked.
    let (user, contacts) = caller::crm_user_while(crm, request, |owner| async move {
        crm.connector.find_contacts(&owner, &search).await
    })
    .await?;
    let mut list: Vec<Value> = contacts.iter().map(view).collect();
    list.push(placeholder());
    // No match is still a success, as App Connect's connectors answer: the extension takes `successful` as
    // "the lookup worked" and opens the log page with the "Create new contact" choice.
    let answer = if contacts.is_empty() {
        json!({
            "successful": true,
            "returnMessage": return_message("Contact not found", "warning", 3000),
            "contact": list,
        })
    } else {
        json!({ "successful": true, "returnMessage": null, "contact": list })
    };
    Ok(caller::crm_answer(&user.refreshed, &answer))
}

/// The new contact's number, name and type: from the JSON body, or from the query string as the 2024 spec
/// shows.
fn new_contact(request: &Request) -> Result<(String, String, String)> {
    let body = request::json_body(request)
        .map_err(|_| Error::bad_request("Invalid JSON body"))?
        .unwrap_or(Value::Null);
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| request::query_param(request, name))
            .filter(|v| !v.trim().is_empty())
    };
    let number = field("phoneNumber").ok_or_else(|| Error::bad_request("Missing phoneNumber"))?;
    let name =
        field("newContactName").ok_or_else(|| Error::bad_request("Missing newContactName"))?;
    let kind = field("newContactType").unwrap_or_else(|| "Contact".into());
    if phone::key(&number).is_none() {
        return Err(Error::bad_request(format!(
            "Invalid phoneNumber: {}",
            number.trim()
        )));
    }
    Ok((number, name.trim().to_owned(), kind))
}

async fn create(crm: &State, request: &Request) -> Result<Response<Body>> {
    let (number, name, kind) = caller::crm_input(crm, request, new_contact(request)).await?;
    let (refreshed, contact) = caller::crm_write(
        crm,
        request,
        |_| Vec::new(),
        |owner| async move {
            crm.connector
                .create_contact(&owner, &number, &name, &kind)
                .await
        },
    )
    .await?;
    Ok(caller::crm_answer(
        &refreshed,
        &json!({
            "successful": true,
            "returnMessage": return_message("Contact created.", "success", 2000),
            "contact": { "id": contact.id, "name": contact.name },
        }),
    ))
}
