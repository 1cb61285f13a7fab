//! The local server: every function's routes behind one HTTP listener, from the functions' own route tables
//! (the ones `template.yaml` lists). Requests are turned into the `lambda_http::Request` API Gateway would
//! deliver (route key, path and query parameters included), so handlers run exactly the code they run in
//! Lambda.

pub mod delivery;
pub mod first_start;
pub mod s3;
pub mod stream;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::RawPathParams;
use axum::middleware::{self, Next};
use axum::routing::{MethodFilter, on};
use futures::future::BoxFuture;
use lambda_http::http::{HeaderName, Method};
use lambda_http::{Body, Request, RequestExt, Response};
use switchboard::App;
use switchboard::Error;
use switchboard::config::{Config, Storage};
use switchboard::mail::{LOCAL_FROM, Transport};
use switchboard::outbound::{Outbound, Policy};
use switchboard::push::Push;
use switchboard::push::endpoints::Endpoints;
use switchboard::push::expo::Expo;
use switchboard::push::web_push::WebPush;
use switchboard_api::http::{self, Family};
use switchboard_api::route::{self, Routes};
use tower_http::cors::{Any, CorsLayer};

/// The request headers browsers may send cross-origin: `template.yaml`'s `CorsConfiguration.AllowHeaders`
/// lists the same (a test checks). Named, not `*`: by the Fetch standard `*` never covers `authorization`. The
/// App Connect extension adds the `rc-*` and `developer-author-name` headers once it knows the user; antz's
/// external modes send `x-user-id` and `X-Tenant-ID` with a token of the organization's own provider.
pub const CORS_ALLOW_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "x-nb-fingerprint",
    "rc-extension-id",
    "rc-account-id",
    "developer-author-name",
    "x-user-id",
    "x-tenant-id",
];

/// The directory the local server writes its mail to.
pub const MAIL_DIR: &str = "SWITCHBOARD_MAIL_DIR";

/// The largest body API Gateway's HTTP API accepts (10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The largest event Lambda takes for a synchronous invocation (6 MB): API Gateway's event for the request,
/// its body base64-encoded when it is not text. The local server refuses what would not fit, the same way.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// What an HTTP API event holds beside the headers and body (request context, route key, ids): about 1 KB.
const EVENT_OVERHEAD: usize = 1024;

/// Every function of the local server: its state field and its crate. Each crate declares its own routes
/// (`ROUTES`) and builds its own state (`state`); this list is all the local server adds.
macro_rules! functions {
    ($($field:ident: $krate:ident),* $(,)?) => {
        /// Every function's state, built once over one `App`: the local server and the tests hand each route
        /// its function's, as each function's `main` does in Lambda.
        pub struct Functions {
            $(pub $field: Arc<$krate::State>,)*
        }

        /// Every route key of every function (`GET /users/{profileId}`), with its function's binary name
        /// (`call-log`).
        pub fn function_routes() -> Vec<(String, &'static str)> {
            let mut keys = Vec::new();
            $(keys.extend(
                $krate::ROUTES.keys().map(|key| (stringify!($krate).replace('_', "-"), key)),
            );)*
            keys
        }

        impl Functions {
            /// Every route, each answered by its function's table with that function's state.
            pub fn routes(&self) -> Vec<Route> {
                let mut routes = Vec::new();
                $(routes.extend(mount(&$krate::ROUTES, &self.$field));)*
                routes
            }
        }
    };
}

/// Every route key of every function, in API Gateway's syntax.
pub fn route_keys() -> Vec<&'static str> {
    function_routes().into_iter().map(|(_, key)| key).collect()
}

functions! {
    health: health,
    crm_auth: crm_auth,
    contact: contact,
    call_log: call_log,
    message_log: message_log,
    users: users,
    avatar_upload_url: avatar_upload_url,
    accounts: accounts,
    push: push,
    server_api: server_api,
    webhooks: webhooks,
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
        let mail = Transport::Files {
            dir: mail_dir(&app.config, env),
            from: app
                .config
                .mail
                .from
                .clone()
                .unwrap_or_else(|| LOCAL_FROM.into()),
        };
        stream.mail_to(Arc::new(mail_send::state(
            &app.config,
            app.store.clone(),
            mail,
        )));
        let (config, store, objects) = (&app.config, &app.store, &app.avatars.objects);
        Arc::new(Self {
            health: Arc::new(health::state(config)),
            crm_auth: Arc::new(crm_auth::state(config, store.clone())),
            contact: Arc::new(contact::state(config, store.clone())),
            call_log: Arc::new(call_log::state(config, store.clone())),
            message_log: Arc::new(message_log::state(config, store.clone())),
            users: Arc::new(users::state(config, store.clone(), objects.clone())),
            avatar_upload_url: Arc::new(avatar_upload_url::state(
                config,
                store.clone(),
                objects.clone(),
            )),
            accounts: Arc::new(accounts::state(config, store.clone(), objects.clone())),
            push: Arc::new(push::state(config, store.clone(), push)),
            server_api: Arc::new(server_api::state(config, store.clone(), objects.clone())),
            webhooks: Arc::new(webhooks::state(config, store.clone())),
        })
    }
}

/// Where the local server writes mail (`.eml` files): `SWITCHBOARD_MAIL_DIR`, else `mail/` in the data
/// directory (`.switchboard/mail/` by default).
pub fn mail_dir(config: &Config, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = env(MAIL_DIR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match &config.storage {
        Storage::Embedded { dir } => dir.join("mail"),
        Storage::DynamoDb { .. } => {
            PathBuf::from(switchboard::config::DEFAULT_DATA_DIR).join("mail")
        }
    }
}

/// The push service and its dispatcher, to which recorded notifications go in process (to `push-dispatch`'s
/// handler), as the table's stream hands them to it in AWS.
fn local_push(
    app: &App,
    endpoints: Endpoints,
    env: impl Fn(&str) -> Option<String> + Copy,
) -> (Push, Arc<push_dispatch::State>) {
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
    let dispatcher = Arc::new(push_dispatch::State {
        push: Push::new(app.store.clone(), Arc::new(endpoints)).with_senders(web_push, Some(expo)),
        store: app.store.clone(),
    });
    let to_dispatch = dispatcher.clone();
    let push = dispatcher
        .push
        .clone()
        .on_recorded(Arc::new(move |id: &str| {
            let event = push_dispatch::insert_event(id);
            tokio::spawn(push_dispatch::handle(to_dispatch.clone(), event));
        }));
    (push, dispatcher)
}

/// Answers a request API Gateway matched to one route (its route key and path parameters set).
pub type Call = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// One route of one function, ready to answer.
#[derive(Clone)]
pub struct Route {
    /// API Gateway's route key: `GET /users/{profileId}`.
    pub key: &'static str,
    pub call: Call,
    /// The family whose envelope its errors (and the platform's 413s) use.
    pub family: Family,
}

impl Route {
    fn method(&self) -> &str {
        self.key.split_once(' ').map_or("", |(m, _)| m)
    }

    fn path(&self) -> &'static str {
        self.key.split_once(' ').map_or("", |(_, p)| p)
    }

    /// Answers `request` as API Gateway would hand it to the function: its route key and the path
    /// parameters set.
    pub async fn answer(
        &self,
        request: Request,
        params: HashMap<String, String>,
    ) -> Response<Body> {
        (self.call)(route::matched(request, self.key, params)).await
    }
}

/// The routes of one function's table, each with the function's state.
fn mount<S: Send + Sync + 'static>(
    table: &'static Routes<S>,
    state: &Arc<S>,
) -> impl Iterator<Item = Route> + use<S> {
    let state = state.clone();
    table.keys().map(move |key| {
        let state = state.clone();
        Route {
            key,
            family: table.family_of(key),
            call: Arc::new(move |request| {
                let state = state.clone();
                Box::pin(async move { table.dispatch(&state, request).await })
            }),
        }
    })
}

/// Finds the route for a method and a concrete path, with the path parameters it binds (percent-decoded,
/// as API Gateway gives them).
pub fn find<'r>(
    routes: &'r [Route],
    method: &Method,
    path: &str,
) -> Option<(&'r Route, HashMap<String, String>)> {
    routes
        .iter()
        .filter(|r| r.method() == method.as_str())
        .find_map(|route| {
            let pattern: Vec<&str> = route.path().split('/').collect();
            let actual: Vec<&str> = path.split('/').collect();
            if pattern.len() != actual.len() {
                return None;
            }
            let mut params = HashMap::new();
            for (p, a) in pattern.iter().zip(&actual) {
                match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !a.is_empty() => {
                        let value = percent_encoding::percent_decode_str(a).decode_utf8_lossy();
                        params.insert(name.to_owned(), value.into_owned());
                    }
                    _ if p == a => {}
                    _ => return None,
                }
            }
            Some((route, params))
        })
}

fn method_filter(method: &str) -> MethodFilter {
    match method {
        "POST" => MethodFilter::POST,
        "PATCH" => MethodFilter::PATCH,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

/// Builds the request API Gateway's HTTP API (payload v2) would hand the function.
pub fn lambda_request(parts: lambda_http::http::request::Parts, body: Vec<u8>) -> Request {
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
    Request::from_parts(parts, body).with_query_string_parameters(query)
}

async fn invoke(
    route: Route,
    params: RawPathParams,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let too_large = |limit: &str| {
        let message = format!("The request is larger than {limit}");
        into_axum(http::error(route.family, Error::TooLarge(message)))
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return too_large("API Gateway accepts (10 MB)");
    };
    if event_size(&parts, &bytes) > MAX_EVENT_BYTES {
        return too_large("a Lambda invocation carries (6 MB)");
    }
    let params = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    into_axum(
        route
            .answer(lambda_request(parts, bytes.to_vec()), params)
            .await,
    )
}

/// About the size of the event API Gateway would hand Lambda for this request: the body as it travels (text
/// as it is, anything else base64-encoded, 4/3 larger), the headers, the path and query, and the context.
fn event_size(parts: &lambda_http::http::request::Parts, body: &[u8]) -> usize {
    let body = if std::str::from_utf8(body).is_ok() && !is_binary(parts) {
        body.len()
    } else {
        body.len().div_ceil(3) * 4
    };
    let headers: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 6)
        .sum();
    body + headers + 2 * parts.uri.to_string().len() + EVENT_OVERHEAD
}

/// Whether API Gateway passes the body base64-encoded: anything but text and JSON.
fn is_binary(parts: &lambda_http::http::request::Parts) -> bool {
    let content_type = parts
        .headers
        .get(lambda_http::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    !(content_type.is_empty()
        || content_type.starts_with("text/")
        || content_type.contains("json")
        || content_type.contains("x-www-form-urlencoded"))
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

/// The router for `routes`, each answered by its function.
pub fn router(routes: &[Route]) -> Router {
    let mut router = Router::new();
    for route in routes {
        let mounted = route.clone();
        // Routes sharing a path merge their methods.
        router = router.route(
            route.path(),
            on(
                method_filter(route.method()),
                move |params: RawPathParams, request: axum::extract::Request| {
                    invoke(mounted.clone(), params, request)
                },
            ),
        );
    }
    router
        // API Gateway's answer for a route it does not have.
        .fallback(|| async {
            into_axum(switchboard_api::http::json(
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
}
