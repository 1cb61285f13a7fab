//! The local server's own S3 endpoint, so avatars work on a laptop with no AWS: `s3s` with the `s3s-fs`
//! backend (objects as files under the data directory), verifying SigV4 like S3, so the presigned URLs the
//! functions make with `aws-sdk-s3` work with `curl -T`. S3 would notify the avatar processor of an
//! upload; `s3s` has no notification hook, so a layer around the service runs the processor's settling in
//! process after each successful PUT to the quarantine prefix, before answering.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use lambda_http::http::{Method, StatusCode};
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use switchboard::App;
use switchboard::avatar::Avatars;
use switchboard::avatar::objects::{self, AvatarObjects, LOCAL_BUCKET, QUARANTINE_PREFIX};
use switchboard::config::local_secret;

/// The local endpoint's access key; its secret key is generated once per data directory
/// (`<data>/secrets/s3-secret-key`), so no two machines, and no published default, share it.
pub const ACCESS_KEY: &str = "switchboard-local";

/// Serves S3 on `127.0.0.1:port` (port 0: any free port), whatever address the API listens on: it is this
/// machine's developer's only. Objects live under `<data_dir>/s3`. Answers `app` with its avatar bucket
/// there, and the address it got.
pub async fn start(
    app: &App,
    port: u16,
    data_dir: &Path,
) -> std::io::Result<(Arc<App>, SocketAddr)> {
    let root = data_dir.join("s3");
    // s3s-fs keeps a bucket as a directory.
    std::fs::create_dir_all(root.join(LOCAL_BUCKET))?;
    let secret = local_secret(data_dir, "s3-secret-key").map_err(std::io::Error::other)?;
    let secret = String::from_utf8_lossy(secret.expose()).into_owned();
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, secret.as_str()));
    let s3 = builder.build();

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    let client = objects::endpoint_client(&format!("http://{addr}"), ACCESS_KEY, &secret);
    let app = app.with_avatar_objects(AvatarObjects::new(client, LOCAL_BUCKET));
    let router = Router::new()
        .fallback(move |request: Request| forward(s3.clone(), request))
        .layer(middleware::from_fn_with_state(
            app.avatars.clone(),
            notify_uploads,
        ));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((app, addr))
}

async fn forward(mut s3: S3Service, request: Request) -> Response {
    match tower_service::Service::call(&mut s3, request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(e) => {
            tracing::error!(error = ?e, "local S3 failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The S3 notification: a successful upload (not a copy) under the quarantine prefix is settled now.
async fn notify_uploads(State(avatars): State<Avatars>, request: Request, next: Next) -> Response {
    let upload = (request.method() == Method::PUT
        && !request.headers().contains_key("x-amz-copy-source"))
    .then(|| uploaded_key(request.uri().path()))
    .flatten();
    let response = next.run(request).await;
    if let Some(key) = upload
        && response.status().is_success()
    {
        match avatars.process(&key).await {
            Ok(outcome) => tracing::info!(key, ?outcome, "avatar upload settled"),
            Err(e) => tracing::warn!(key, cause = %e, "avatar upload not settled"),
        }
    }
    response
}

/// The quarantine key a path-style PUT writes: `/<bucket>/uploads/…`.
fn uploaded_key(path: &str) -> Option<String> {
    let key = path
        .strip_prefix('/')?
        .strip_prefix(LOCAL_BUCKET)?
        .strip_prefix('/')?;
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .ok()?
        .into_owned();
    key.starts_with(QUARANTINE_PREFIX).then_some(key)
}
