//! `cargo run -p switchboard-local`: every function on 127.0.0.1:3000 with the embedded store.
//!
//! Options: `--addr HOST:PORT` (or `SWITCHBOARD_ADDR`), `--port PORT`, `--data-dir DIR` (or
//! `SWITCHBOARD_DATA_DIR`, default `./.switchboard`). With `SWITCHBOARD_TABLE` (and AWS settings) in the
//! environment it uses DynamoDB instead.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use switchboard::App;
use switchboard::config::{Config, Storage};
use switchboard::identity::bootstrap::{Bootstrap, VARIABLES};

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
/// The local S3 endpoint's port (on the API's address): avatars' presigned URLs point there.
const DEFAULT_S3_PORT: u16 = 3001;
const USAGE: &str = "usage: switchboard-local [bootstrap | migrate [--org ID]...] [--addr HOST:PORT | --port PORT] [--data-dir DIR]
                         [--s3-port PORT] [--no-delivery]

  bootstrap   create the organization and admin named by SWITCHBOARD_ORG_ID, SWITCHBOARD_ORG_API_KEY,
              SWITCHBOARD_ORG_API_SECRET, SWITCHBOARD_ADMIN_USERNAME and SWITCHBOARD_ADMIN_PASSWORD (if missing),
              and (break-glass) unlock that admin and give it SWITCHBOARD_ADMIN_PASSWORD, then exit. Uses
              DynamoDB when SWITCHBOARD_TABLE is set, so it also bootstraps and recovers a deployed stack.

  migrate     rewrite the identities of the organizations named by --org (default: SWITCHBOARD_ORG_ID or
              `default`) written by an older Switchboard into today's layout, then exit. Idempotent: run it
              again after an interruption. Uses DynamoDB when SWITCHBOARD_TABLE is set.

With no variables, the first start on the embedded store creates the default organization and an admin
with a generated password and API key, prints them once and keeps them in the data directory.

Without SWITCHBOARD_BUCKET, avatars go to an S3 endpoint of its own on --s3-port (or SWITCHBOARD_S3_PORT,
default 3001; 0 for any free port) on 127.0.0.1 only, whatever --addr says, with a secret key generated
once per data directory; objects under DIR/s3, and uploads to it are processed in process as the S3
notification would in AWS.

Webhook deliveries are made in process, from what is stored. --no-delivery leaves them to another process
(a deployed stack's event-dispatch, when SWITCHBOARD_TABLE names its table; or a later start): events are
still recorded, only not sent from here.";

struct Options {
    bootstrap_only: bool,
    migrate: bool,
    organizations: Vec<String>,
    addr: SocketAddr,
    data_dir: Option<PathBuf>,
    s3_port: u16,
    deliver: bool,
}

fn options() -> Result<Options, String> {
    let mut addr = std::env::var("SWITCHBOARD_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
    let mut data_dir = None;
    let mut s3_port =
        std::env::var("SWITCHBOARD_S3_PORT").unwrap_or_else(|_| DEFAULT_S3_PORT.to_string());
    let mut bootstrap_only = false;
    let mut migrate = false;
    let mut organizations = Vec::new();
    let mut deliver = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--addr" => addr = value()?,
            "--port" => addr = format!("127.0.0.1:{}", value()?),
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--s3-port" => s3_port = value()?,
            "bootstrap" => bootstrap_only = true,
            "migrate" => migrate = true,
            "--org" => organizations.push(value()?),
            "--no-delivery" => deliver = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let addr = addr
        .parse()
        .map_err(|e| format!("invalid address {addr}: {e}"))?;
    let s3_port = s3_port
        .parse()
        .map_err(|e| format!("invalid S3 port {s3_port}: {e}"))?;
    Ok(Options {
        bootstrap_only,
        migrate,
        organizations,
        addr,
        data_dir,
        s3_port,
        deliver,
    })
}

/// `switchboard-local migrate`: each organization in turn; conflicts are listed for the operator.
async fn migrate(app: &App, organizations: &[String]) -> ExitCode {
    let default = [app.config.default_organization.clone()];
    let organizations = if organizations.is_empty() {
        &default[..]
    } else {
        organizations
    };
    let mut clean = true;
    for org in organizations {
        match app.identities.migrate(org).await {
            Ok(report) => {
                println!(
                    "{org}: {} identities, {} migrated, {} left as they were",
                    report.identities,
                    report.migrated,
                    report.conflicts.len()
                );
                for conflict in &report.conflicts {
                    println!("  {conflict}");
                }
                clean &= report.conflicts.is_empty();
            }
            Err(e) => {
                eprintln!("switchboard-local: migrating {org} failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

async fn shutdown() {
    // Ctrl-C, or SIGTERM from a process manager.
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> ExitCode {
    switchboard::telemetry::init();
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::local(options.data_dir.clone()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("switchboard-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Against an emulator (DynamoDB Local), create the table on first use; in AWS the stack owns it.
    if let (Storage::DynamoDb { table }, Ok(_)) =
        (&config.storage, std::env::var("AWS_ENDPOINT_URL_DYNAMODB"))
    {
        let client = aws_sdk_dynamodb::Client::new(&switchboard::app::aws_config().await);
        if let Err(e) = switchboard::store::table::ensure_table(&client, table).await {
            eprintln!("switchboard-local: {e}");
            return ExitCode::FAILURE;
        }
    }
    let app = match App::new(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("switchboard-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    if options.migrate {
        return migrate(&app, &options.organizations).await;
    }
    let bootstrap = match Bootstrap::from_env(|name| std::env::var(name).ok()) {
        Ok(bootstrap) => bootstrap,
        Err(e) => {
            eprintln!("switchboard-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    match &bootstrap {
        Some(settings) => {
            let report = if options.bootstrap_only {
                app.identities.break_glass(settings).await
            } else {
                app.identities.bootstrap(settings).await
            };
            match report {
                Ok(report) => tracing::info!(
                    organization = settings.organization_id,
                    organization_created = report.organization_created,
                    admin = settings.admin_username,
                    admin_created = report.admin_created,
                    admin_recovered = report.admin_recovered,
                    "bootstrap"
                ),
                Err(e) => {
                    eprintln!("switchboard-local: bootstrap failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        None if options.bootstrap_only => {
            eprintln!(
                "switchboard-local: bootstrap needs {}",
                VARIABLES.join(", ")
            );
            return ExitCode::from(2);
        }
        None => {
            if let Storage::Embedded { dir } = &app.config.storage {
                match switchboard_local::first_start::first_start(&app, dir).await {
                    Ok(Some(message)) => println!("{message}"),
                    Ok(None) => {}
                    Err(e) => {
                        eprintln!("switchboard-local: first start failed: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    if options.bootstrap_only {
        return ExitCode::SUCCESS;
    }
    match &app.config.storage {
        Storage::Embedded { dir } => tracing::info!(dir = %dir.display(), "embedded store"),
        Storage::DynamoDb { table } => tracing::info!(table, "DynamoDB store"),
    }
    let app = if app.config.bucket.is_some() {
        tracing::info!(bucket = app.config.bucket, "avatars in S3");
        app
    } else {
        let data_dir = match &app.config.storage {
            Storage::Embedded { dir } => dir.clone(),
            Storage::DynamoDb { .. } => options
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(switchboard::config::DEFAULT_DATA_DIR)),
        };
        match switchboard_local::s3::start(&app, options.s3_port, &data_dir).await {
            Ok((app, addr)) => {
                tracing::info!(root = %data_dir.join("s3").display(), "local S3 on http://{addr}");
                app
            }
            Err(e) => {
                eprintln!(
                    "switchboard-local: cannot serve S3 on 127.0.0.1:{}: {e}",
                    options.s3_port
                );
                return ExitCode::FAILURE;
            }
        }
    };
    let listener = match tokio::net::TcpListener::bind(options.addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("switchboard-local: cannot listen on {}: {e}", options.addr);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{}", options.addr);
    let mail = switchboard_local::mail_dir(&app.config, |name| std::env::var(name).ok());
    tracing::info!(dir = %mail.display(), "mail is written as .eml files");
    let functions = switchboard_local::Functions::new(&app);
    // Webhook deliveries run in process, from what is stored: a restart picks up where it stopped.
    if options.deliver {
        tokio::spawn(switchboard_local::delivery::run(
            functions.webhooks.webhooks.clone(),
        ));
    } else {
        tracing::info!("webhook deliveries are left to another process (--no-delivery)");
    }
    let router = switchboard_local::router(&functions.routes());
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await
    {
        eprintln!("switchboard-local: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
