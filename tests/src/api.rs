//! Drives the functions' handlers the way API Gateway would, through the local server's route table, on a
//! chosen store. Each case gets a fresh store with one bootstrapped organization and admin.

use std::sync::Arc;

use lambda_http::http::{self, Method};
use serde_json::Value;
use switchboard::App;
use switchboard::config::Config;
use switchboard::identity::bootstrap::Bootstrap;
use switchboard::store::Store;
use switchboard::store::embedded::EmbeddedStore;
use switchboard_local::{Functions, Route, find, lambda_request};

pub const ORG: &str = "default";
pub const ORG_API_KEY: &str = "test-org-api-key";
pub const ORG_API_SECRET: &str = "test-org-api-secret-0123456789abcdef";
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const TOKEN_SECRET: &str = "test-token-secret-0123456789abcdef0123";
pub const CRM_SECRET: &str = "test-crm-secret-0123456789abcdef0123";
/// The reset link the tests' mail carries.
pub const RESET_URL: &str = "https://app.example.com/reset?token={token}";
/// The failed sign-in lockout of the tests, short enough to wait out.
pub const LOCKOUT_SECONDS: i64 = 2;

pub struct Api {
    pub app: Arc<App>,
    /// Every function's state over `app`, as the local server builds it.
    pub functions: Arc<Functions>,
    routes: Vec<Route>,
    _dir: Arc<tempfile::TempDir>,
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: http::HeaderMap,
}

impl Reply {
    /// The error message of any family's envelope.
    pub fn message(&self) -> &str {
        self.body["error"]["message"]
            .as_str()
            .or_else(|| self.body["detail"].as_str())
            .unwrap_or(&self.text)
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.text))
            .to_owned()
    }
}

pub fn config(dir: &std::path::Path) -> Config {
    Config::for_local(
        |name| match name {
            "SWITCHBOARD_TOKEN_SECRET" => Some(TOKEN_SECRET.into()),
            "APP_SERVER_SECRET_KEY" => Some(CRM_SECRET.into()),
            "SWITCHBOARD_LOCKOUT_SECONDS" => Some(LOCKOUT_SECONDS.to_string()),
            "SWITCHBOARD_PASSWORD_RESET_URL" => Some(RESET_URL.into()),
            _ => None,
        },
        Some(dir.into()),
    )
    .expect("test config")
}

impl Api {
    pub async fn embedded() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = App::new(config(dir.path())).await.expect("app");
        Self::ready(app, dir).await
    }

    /// On the embedded store, with every `n`-th write failing as a DynamoDB transaction conflict.
    pub async fn embedded_conflicting(n: u64) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(dir.path(), crate::cursor_codec())
            .expect("embedded store")
            .with_conflicts_every(n);
        Self::ready(App::with_store(config(dir.path()), Arc::new(store)), dir).await
    }

    pub async fn dynamodb() -> Self {
        Self::counted(crate::CallCounter::default()).await
    }

    /// On DynamoDB Local, with `counter` counting the DynamoDB calls.
    pub async fn counted(counter: crate::CallCounter) -> Self {
        Self::over(crate::counted_dynamo_store(counter).await).await
    }

    /// Over a store built by the caller.
    pub async fn over(store: Arc<dyn Store>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::ready(App::with_store(config(dir.path()), store), dir).await
    }

    async fn ready(app: Arc<App>, dir: tempfile::TempDir) -> Self {
        app.identities
            .bootstrap(&Bootstrap {
                organization_id: ORG.into(),
                api_key: ORG_API_KEY.into(),
                api_secret: ORG_API_SECRET.into(),
                admin_username: ADMIN.into(),
                admin_password: ADMIN_PASSWORD.into(),
            })
            .await
            .expect("bootstrap");
        Self::serving(app, Arc::new(dir))
    }

    /// Every function's state over `app`, and the routes answering with them.
    fn serving(app: Arc<App>, dir: Arc<tempfile::TempDir>) -> Self {
        let functions = Functions::new(&app);
        Self {
            routes: functions.routes(),
            functions,
            app,
            _dir: dir,
        }
    }

    /// The same app with an avatar bucket of its own in the test services' s3s-fs.
    pub async fn with_bucket(self) -> Self {
        let objects = crate::avatar::bucket().await;
        let app = self.app.with_avatar_objects(objects);
        self.with_app(app)
    }

    /// The same store through `app` (e.g. the local server's, with its own S3 endpoint).
    pub fn with_app(self, app: Arc<App>) -> Self {
        Self::serving(app, self._dir)
    }

    /// The same store seen through an app with another configuration.
    pub fn reconfigured(&self, change: impl FnOnce(&mut Config)) -> Api {
        let mut config = self.app.config.clone();
        change(&mut config);
        let app = App::with_store(config, self.app.store.clone())
            .with_avatar_objects(self.app.avatars.objects.clone());
        Self::serving(app, self._dir.clone())
    }

    /// With the push service's SNS endpoints given (tests point them at moto) and its other settings
    /// from `env`.
    pub fn with_push(
        mut self,
        endpoints: switchboard::push::endpoints::Endpoints,
        env: impl Fn(&str) -> Option<String> + Copy,
    ) -> Self {
        self.functions = Functions::with_push(&self.app, endpoints, env);
        self.routes = self.functions.routes();
        self
    }

    pub fn call(&self, method: &str, uri: &str) -> Call<'_> {
        Call {
            api: self,
            method: method.parse().expect("method"),
            uri: uri.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(&self, uri: &str) -> Call<'_> {
        self.call("GET", uri)
    }
    pub fn post(&self, uri: &str) -> Call<'_> {
        self.call("POST", uri)
    }
    pub fn patch(&self, uri: &str) -> Call<'_> {
        self.call("PATCH", uri)
    }
    pub fn put(&self, uri: &str) -> Call<'_> {
        self.call("PUT", uri)
    }
    pub fn delete(&self, uri: &str) -> Call<'_> {
        self.call("DELETE", uri)
    }

    /// Signs up a regular account with a profile; returns (account id, profile id).
    pub async fn sign_up(&self, username: &str, password: &str) -> (String, String) {
        let reply = self
            .post("/accounts")
            .json(serde_json::json!({"username": username, "password": password, "profile": {"name": username}}))
            .send()
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        (
            reply.str("id"),
            reply.body["profile"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Signs in and returns the access token.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        fingerprint: Option<&str>,
    ) -> String {
        let mut call = self
            .post("/sessions")
            .json(serde_json::json!({"username": username, "password": password}));
        if let Some(fp) = fingerprint {
            call = call.header("x-nb-fingerprint", fp);
        }
        let reply = call.send().await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.str("accessToken")
    }

    /// A new identity `username` with a personal API key; returns the key.
    pub async fn api_key(&self, username: &str) -> String {
        self.sign_up(username, "crm-user-password").await;
        let token = self.sign_in(username, "crm-user-password", None).await;
        self.post("/users/me/api-keys")
            .bearer(&token)
            .json(serde_json::json!({}))
            .send()
            .await
            .str("key")
    }

    /// `POST /apiKeyLogin` with a personal API key; returns the CRM `jwtToken`.
    pub async fn crm_login(&self, key: &str) -> String {
        let reply = self
            .post("/apiKeyLogin")
            .json(serde_json::json!({"platform": "switchboard", "apiKey": key}))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.str("jwtToken")
    }

    pub async fn admin_token(&self) -> String {
        self.sign_in(ADMIN, ADMIN_PASSWORD, None).await
    }
}

pub struct Call<'a> {
    api: &'a Api,
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.as_bytes().to_vec());
        self
    }

    /// A body of any bytes, with its content type.
    pub fn bytes(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self.header("content-type", content_type)
    }

    pub async fn send(self) -> Reply {
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(&self.uri);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        let path = parts.uri.path().to_owned();
        let (route, params) = find(&self.api.routes, &self.method, &path)
            .unwrap_or_else(|| panic!("no route for {} {path}", self.method));
        let request = lambda_request(parts, self.body.unwrap_or_default());
        let response = crate::iam::ROUTE
            .scope(route.key.to_owned(), route.answer(request, params))
            .await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            text,
            headers,
        }
    }
}

/// Generates one `#[tokio::test]` per case of `$module`, each on a fresh [`Api`] from `$api`.
#[macro_export]
macro_rules! api_suite {
    ($api:expr; $module:ident; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let api = $api;
                // Push tokens of this case are its own (moto's SNS shares one endpoint per token).
                $crate::push::with_own_tokens($crate::$module::$case(&api)).await;
            }
        )+
    };
}
