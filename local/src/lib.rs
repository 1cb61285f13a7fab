//! The local server: every function's handler behind one HTTP listener, with the same routes as
//! `template.yaml`. Requests are turned into the `lambda_http::Request` API Gateway would deliver (path and
//! query parameters included), so handlers run exactly the code they run in Lambda.

pub mod first_start;
pub mod s3;
pub mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawPathParams, State};
use axum::middleware::{self, Next};
use axum::routing::{MethodFilter, on};
use futures::future::BoxFuture;
use lambda_http::http::{HeaderName, Method};
use lambda_http::{Body, Request, RequestExt, Response};
use switchboard::App;
use switchboard::config::Storage;
use switchboard::crm::Crm;
use switchboard::identity::Identities;
use switchboard::outbound::{Outbound, Policy};
use switchboard::push::Push;
use switchboard::push::endpoints::Endpoints;
use switchboard::push::expo::Expo;
use switchboard::push::web_push::WebPush;
use switchboard::webhooks::subscriptions::Webhooks;
use tower_http::cors::{Any, CorsLayer};

/// The request headers browsers may send cross-origin: `template.yaml`'s `CorsConfiguration.AllowHeaders`
/// lists the same (a test checks). Named, not `*`: by the Fetch standard `*` never covers `authorization`. The
/// App Connect extension adds the `rc-*` and `developer-author-name` headers once it knows the user.
pub const CORS_ALLOW_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "x-nb-fingerprint",
    "rc-extension-id",
    "rc-account-id",
    "developer-author-name",
];

/// The largest body API Gateway accepts (10 MB); the local server refuses larger ones the same way.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Every function's state, built once over one `App`: the local server and the tests hand each handler its
/// own, as each function's `main` does in Lambda.
pub struct Functions {
    pub health: Arc<health::Health>,
    /// contact, call-log, message-log.
    pub crm: Arc<Crm>,
    pub crm_auth: Arc<crm_auth::CrmAuth>,
    pub users: Arc<users::Users>,
    /// server-api.
    pub identities: Arc<Identities>,
    pub accounts: Arc<accounts::Accounts>,
    pub avatar_uploads: Arc<avatar_upload_url::AvatarUploads>,
    pub webhooks: Arc<webhooks::State>,
    pub push: Arc<push::PushApi>,
}

impl Functions {
    /// Push's SNS endpoints from the environment (`SWITCHBOARD_SNS_APNS_ARN`, `SWITCHBOARD_SNS_FCM_ARN`).
    pub fn new(app: &App) -> Arc<Self> {
        let env = |name: &str| std::env::var(name).ok();
        Self::with_push(app, Endpoints::from_env(env), env)
    }

    /// With the push service's SNS endpoints given and its other settings from `env` (tests point them
    /// at moto and at loopback receivers).
    pub fn with_push(
        app: &App,
        endpoints: Endpoints,
        env: impl Fn(&str) -> Option<String> + Copy,
    ) -> Arc<Self> {
        let stream = stream::TableStream::over(app.store.clone());
        let app = &app.over_store(stream.clone());
        let (push, dispatcher) = local_push(app, endpoints, env);
        stream.deliver_to(dispatcher);
        Arc::new(Self {
            health: Arc::new(health::Health {
                public_url: app.config.public_url.clone(),
            }),
            crm: Arc::new(app.crm.clone()),
            crm_auth: Arc::new(crm_auth::CrmAuth {
                crm: app.crm.clone(),
                identities: app.identities.clone(),
            }),
            users: Arc::new(users::Users {
                identities: app.identities.clone(),
                crm: app.crm.clone(),
                avatars: app.avatars.clone(),
                outbound: Arc::new(Outbound::new(app.config.outbound.clone())),
                avatar_max_size: app.config.avatar_max_size,
            }),
            identities: Arc::new(app.identities.clone()),
            accounts: Arc::new(accounts::Accounts {
                identities: app.identities.clone(),
                avatars: app.avatars.clone(),
            }),
            avatar_uploads: Arc::new(avatar_upload_url::AvatarUploads {
                identities: app.identities.clone(),
                avatars: app.avatars.clone(),
            }),
            webhooks: Arc::new(webhooks::State {
                identities: app.identities.clone(),
                webhooks: Arc::new(Webhooks::new(app.store.clone(), &app.config)),
            }),
            push: Arc::new(push::PushApi {
                identities: app.identities.clone(),
                push,
            }),
        })
    }
}

/// The push service and its dispatcher, to which recorded notifications go in process (to `push-dispatch`'s
/// handler), as the table's stream hands them to it in AWS.
fn local_push(
    app: &App,
    endpoints: Endpoints,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> (Push, Arc<Push>) {
    let outbound = Arc::new(Outbound::new(Policy::from_env(env)));
    // A VAPID key is generated into the embedded store's data directory unless one is configured.
    let dir = match &app.config.storage {
        Storage::Embedded { dir } => Some(dir.as_path()),
        Storage::DynamoDb { .. } => None,
    };
    let web_push = WebPush::from_env(env, dir, outbound.clone())
        .unwrap_or_else(|e| {
            tracing::warn!(cause = %e, "Web Push is off");
            None
        })
        .map(Arc::new);
    let expo = Arc::new(Expo::from_env(env, outbound));
    let dispatcher = Arc::new(
        Push::new(app.store.clone(), Arc::new(endpoints)).with_senders(web_push, Some(expo)),
    );
    let to_dispatch = dispatcher.clone();
    let push = (*dispatcher).clone().on_recorded(Arc::new(move |id: &str| {
        let event = push_dispatch::insert_event(id);
        tokio::spawn(push_dispatch::handle(to_dispatch.clone(), event));
    }));
    (push, dispatcher)
}

pub type Handler = fn(&Functions, Request) -> BoxFuture<'static, Response<Body>>;

/// One API Gateway route: method, path in API Gateway syntax (`/users/{id}`) and its function's handler.
#[derive(Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub handler: Handler,
}

impl Route {
    /// API Gateway's route key, as events carry it: `GET /is-alive`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A route whose handler takes `Functions::$state`.
macro_rules! route {
    ($method:ident $path:literal => $handler:path, $state:ident) => {
        Route {
            method: Method::$method,
            path: $path,
            handler: |functions, request| Box::pin($handler(functions.$state.clone(), request)),
        }
    };
}

/// Every route of every function. Adding a function to the local server is one line here.
pub fn routes() -> Vec<Route> {
    vec![
        route!(GET "/is-alive" => health::handle, health),
        route!(GET "/isAlive" => health::handle, health),
        route!(GET "/crmManifest" => health::handle, health),
        // CRM extension API (App Connect).
        route!(POST "/apiKeyLogin" => crm_auth::handle, crm_auth),
        route!(POST "/unAuthorize" => crm_auth::handle, crm_auth),
        route!(GET "/user/settings" => crm_auth::handle, crm_auth),
        route!(POST "/user/settings" => crm_auth::handle, crm_auth),
        route!(GET "/contact" => contact::handle, crm),
        route!(POST "/contact" => contact::handle, crm),
        route!(GET "/callLog" => call_log::handle, crm),
        route!(POST "/callLog" => call_log::handle, crm),
        route!(PATCH "/callLog" => call_log::handle, crm),
        route!(POST "/callLog/cacheNote" => call_log::handle, crm),
        route!(PUT "/callDisposition" => call_log::handle, crm),
        route!(POST "/messageLog" => message_log::handle, crm),
        // User service (seed 003) and personal API keys.
        route!(POST "/users" => users::handle, users),
        route!(GET "/users" => users::handle, users),
        route!(GET "/users/{profileId}" => users::handle, users),
        route!(PATCH "/users/{profileId}" => users::handle, users),
        route!(DELETE "/users/{profileId}" => users::handle, users),
        route!(POST "/identities/{identityId}/lock" => users::handle, users),
        route!(POST "/identities/{identityId}/unlock" => users::handle, users),
        route!(POST "/users/me/api-keys" => users::handle, users),
        route!(GET "/users/me/api-keys" => users::handle, users),
        route!(DELETE "/users/me/api-keys/{keyId}" => users::handle, users),
        route!(POST "/users/me/avatar/sync" => users::handle, users),
        route!(PUT "/users/me/avatar" => users::handle, users),
        route!(GET "/user-profiles/{profileId}/avatar-upload-url" => avatar_upload_url::handle, avatar_uploads),
        // Accounts and sessions.
        route!(POST "/accounts" => accounts::handle, accounts),
        route!(GET "/accounts/{accountId}" => accounts::handle, accounts),
        route!(DELETE "/accounts/{accountId}" => accounts::handle, accounts),
        route!(POST "/accounts/{accountId}/tokens" => accounts::handle, accounts),
        route!(GET "/accounts" => accounts::handle, accounts),
        route!(PATCH "/accounts/{accountId}" => accounts::handle, accounts),
        route!(GET "/accounts/{accountId}/tokens" => accounts::handle, accounts),
        route!(GET "/accounts/{accountId}/tokens/{tokenId}" => accounts::handle, accounts),
        route!(DELETE "/accounts/{accountId}/tokens/{tokenId}" => accounts::handle, accounts),
        route!(GET "/accounts/{accountId}/roles" => accounts::handle, accounts),
        route!(PUT "/accounts/{accountId}/roles/{role}" => accounts::handle, accounts),
        route!(DELETE "/accounts/{accountId}/roles/{role}" => accounts::handle, accounts),
        route!(GET "/accounts/{accountId}/profile" => accounts::handle, accounts),
        route!(PATCH "/accounts/{accountId}/profile" => accounts::handle, accounts),
        route!(POST "/requests" => accounts::handle, accounts),
        route!(GET "/requests" => accounts::handle, accounts),
        route!(GET "/requests/{requestId}" => accounts::handle, accounts),
        route!(DELETE "/requests/{requestId}" => accounts::handle, accounts),
        route!(POST "/sessions" => accounts::handle, accounts),
        route!(GET "/sessions" => accounts::handle, accounts),
        route!(DELETE "/sessions" => accounts::handle, accounts),
        route!(POST "/sessions/refresh" => accounts::handle, accounts),
        route!(POST "/api/v1/server/users/{uid}/notifications" => push::handle, push),
        // Push notifications.
        route!(POST "/users/me/devices" => push::handle, push),
        route!(GET "/users/me/devices" => push::handle, push),
        route!(DELETE "/users/me/devices/{deviceId}" => push::handle, push),
        route!(GET "/users/me/preferences" => push::handle, push),
        route!(PATCH "/users/me/preferences" => push::handle, push),
        route!(POST "/users/{profileId}/notifications" => push::handle, push),
        route!(GET "/notifications/{id}" => push::handle, push),
        route!(GET "/push/web-push-key" => push::handle, push),
        route!(GET "/sessions/{sessionId}" => accounts::handle, accounts),
        route!(DELETE "/sessions/{sessionId}" => accounts::handle, accounts),
        // Server API (ContactsManager SDKs).
        route!(POST "/api/v1/server/users/{uid}" => server_api::handle, identities),
        route!(DELETE "/api/v1/server/users/{uid}" => server_api::handle, identities),
        route!(POST "/api/v1/client/validate-key" => server_api::handle, identities),
        // Webhook subscriptions (organization admins).
        route!(POST "/webhooks" => webhooks::handle, webhooks),
        route!(GET "/webhooks" => webhooks::handle, webhooks),
        route!(GET "/webhooks/{webhookId}" => webhooks::handle, webhooks),
        route!(PATCH "/webhooks/{webhookId}" => webhooks::handle, webhooks),
        route!(DELETE "/webhooks/{webhookId}" => webhooks::handle, webhooks),
        route!(POST "/webhooks/{webhookId}/secret" => webhooks::handle, webhooks),
        route!(POST "/webhooks/{webhookId}/ping" => webhooks::handle, webhooks),
        route!(GET "/webhooks/{webhookId}/deliveries" => webhooks::handle, webhooks),
        route!(POST "/webhooks/{webhookId}/deliveries/{deliveryId}/retry" => webhooks::handle, webhooks),
    ]
}

/// Finds the route for a method and a concrete path, with the path parameters it binds.
pub fn find<'r>(
    routes: &'r [Route],
    method: &Method,
    path: &str,
) -> Option<(&'r Route, HashMap<String, String>)> {
    routes
        .iter()
        .filter(|r| r.method == *method)
        .find_map(|route| {
            let pattern: Vec<&str> = route.path.split('/').collect();
            let actual: Vec<&str> = path.split('/').collect();
            if pattern.len() != actual.len() {
                return None;
            }
            let mut params = HashMap::new();
            for (p, a) in pattern.iter().zip(&actual) {
                match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !a.is_empty() => {
                        params.insert(name.to_owned(), (*a).to_owned());
                    }
                    _ if p == a => {}
                    _ => return None,
                }
            }
            Some((route, params))
        })
}

fn method_filter(method: &Method) -> MethodFilter {
    match *method {
        Method::POST => MethodFilter::POST,
        Method::PATCH => MethodFilter::PATCH,
        Method::PUT => MethodFilter::PUT,
        Method::DELETE => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// Builds the request API Gateway's HTTP API (payload v2) would hand the function.
pub fn lambda_request(
    parts: lambda_http::http::request::Parts,
    body: Vec<u8>,
    path_parameters: HashMap<String, String>,
) -> Request {
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let body = match String::from_utf8(body) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(binary) => Body::Binary(binary.into_bytes()),
    };
    Request::from_parts(parts, body)
        .with_path_parameters(path_parameters)
        .with_query_string_parameters(query)
}

async fn invoke(
    handler: Handler,
    functions: Arc<Functions>,
    params: RawPathParams,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return into_axum(switchboard::http::text(413, "Request Entity Too Large"));
    };
    let params = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    into_axum(handler(&functions, lambda_request(parts, bytes.to_vec(), params)).await)
}

fn into_axum(response: Response<Body>) -> axum::response::Response {
    response.map(|body| match body {
        Body::Empty => axum::body::Body::empty(),
        Body::Text(text) => axum::body::Body::from(text),
        Body::Binary(bytes) => axum::body::Body::from(bytes),
        _ => axum::body::Body::empty(),
    })
}

/// One log line per request: method, path, status and time taken.
async fn log_request(request: axum::extract::Request, next: Next) -> axum::response::Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1e3),
        "request"
    );
    response
}

/// The router for `routes`, each handler with its function's state.
pub fn router(functions: Arc<Functions>, routes: &[Route]) -> Router {
    let mut router = Router::new();
    for route in routes {
        let handler = route.handler;
        // Routes sharing a path merge their methods.
        router = router.route(
            route.path,
            on(
                method_filter(&route.method),
                move |State(functions): State<Arc<Functions>>,
                      params: RawPathParams,
                      request: axum::extract::Request| {
                    invoke(handler, functions, params, request)
                },
            ),
        );
    }
    router
        // API Gateway's answer for a route it does not have.
        .fallback(|| async {
            into_axum(switchboard::http::json(
                404,
                &serde_json::json!({ "message": "Not Found" }),
            ))
        })
        .layer(middleware::from_fn(log_request))
        // As the HTTP API's CORS configuration in template.yaml: browser extensions call it directly.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(
                    CORS_ALLOW_HEADERS
                        .iter()
                        .copied()
                        .map(HeaderName::from_static)
                        .collect::<Vec<_>>(),
                )
                .expose_headers([
                    HeaderName::from_static("x-next-cursor"),
                    HeaderName::from_static("x-refreshed-jwt-token"),
                ])
                .max_age(Duration::from_secs(600)),
        )
        .with_state(functions)
}
