//! `/members`: the member directory (docs/members.md). Any signed-in member finds the others of its
//! organization by name, username or email (word prefixes, case- and accent-insensitive) and sees what a
//! fellow member may: no email or phone unless the organization shows them.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use switchboard::Result;
use switchboard::error::Error;
use switchboard::identity::members::{MAX_RESULTS, Member};
use switchboard_api::http;
use switchboard_api::{caller, request};

use crate::State;

const MEMBER_NOT_FOUND: &str = "Member not found";
/// The page size of a paged search.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
const MAX_QUERY_CHARS: usize = 100;

async fn member_view(users: &State, member: &Member) -> Result<Value> {
    let avatar = users
        .avatars
        .view(member.profile.as_ref().and_then(|p| p.avatar.as_ref()))
        .await?;
    Ok(member.view(&avatar, users.identities.members_show_contact))
}

/// `GET /members?query=&page=&limit=`: without `query`, `page` and `limit`, everyone (up to 1,000), as
/// antz's `usersApi.list()`.
pub(crate) async fn find_members(users: &State, request: &Request) -> Result<Response<Body>> {
    let caller = caller::principal(&users.identities, request).await?;
    let mut problems = Vec::new();
    let paged = request::query_param(request, "page").is_some()
        || request::query_param(request, "limit").is_some();
    let page = request::bounded(request, "page", 1, 1, 1000, &mut problems);
    let limit = request::bounded(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, &mut problems);
    let query = request::query_param(request, "query").filter(|q| !q.trim().is_empty());
    if query
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS)
    {
        problems.push(format!(
            "request query/query must NOT have more than {MAX_QUERY_CHARS} characters"
        ));
    }
    if page * limit > MAX_RESULTS {
        problems.push(format!(
            "request query/page times limit must be at most {MAX_RESULTS}"
        ));
    }
    if !problems.is_empty() {
        return Err(Error::validation(problems));
    }
    let (page, limit) = match (paged, &query) {
        (false, None) => (1, MAX_RESULTS),
        _ => (page, limit),
    };
    let found = users
        .identities
        .members(&caller, query.as_deref(), page, limit)
        .await?;
    let mut views = Vec::with_capacity(found.len());
    for member in &found {
        views.push(member_view(users, member).await?);
    }
    Ok(http::json(200, &views))
}

async fn member(users: &State, request: &Request, id: &str) -> Result<Member> {
    let caller = caller::principal(&users.identities, request).await?;
    users
        .identities
        .member(&caller, id)
        .await?
        .ok_or_else(|| Error::NotFound(MEMBER_NOT_FOUND.into()))
}

/// `GET /members/{id}`: one member of the caller's organization; another organization's is 404.
pub(crate) async fn find_member(
    users: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let member = member(users, request, id).await?;
    Ok(http::json(200, &member_view(users, &member).await?))
}

/// `GET /members/{id}/last-seen` → `{lastSeenAt, status}`.
pub(crate) async fn last_seen(
    users: &State,
    request: &Request,
    id: &str,
) -> Result<Response<Body>> {
    let member = member(users, request, id).await?;
    let view = member.view(&Value::Null, false);
    Ok(http::json(
        200,
        &json!({"lastSeenAt": view["lastSeenAt"], "status": view["status"]}),
    ))
}
