//! Every cross-crate suite in one test binary: the modules are the suites (`<area>_<backend>`, `trigger_*`,
//! `template*`, …). One binary links the AWS SDK once instead of once per suite, which keeps a clean build's
//! disk use and link time down. Run one suite with `cargo test -p switchboard-tests --test integration <module>::`.

mod avatar_dynamodb;
mod avatar_embedded;
mod crm_dynamodb;
mod crm_embedded;
mod events;
mod extension_dynamodb;
mod extension_embedded;
mod first_start;
mod idempotent_retries;
mod identity_dynamodb;
mod identity_embedded;
mod identity_security_dynamodb;
mod identity_security_embedded;
mod local_s3;
mod local_server;
mod mail_dynamodb;
mod mail_embedded;
mod openapi_webhooks;
mod outage;
mod outbox_dynamodb;
mod outbox_embedded;
mod push_dynamodb;
mod push_embedded;
mod resilience_dynamodb;
mod resilience_embedded;
mod round_trips;
mod sessions_dynamodb;
mod sessions_embedded;
mod store_dynamodb;
mod store_embedded;
mod store_embedded_lagging;
mod streams_dynamodb;
mod template;
mod template_operations;
mod trigger_avatar_processor;
mod trigger_event_dispatch;
mod trigger_mail_send;
mod trigger_push_dispatch;
mod trigger_webhook_deliver;
mod webhook_sdk;
mod webhooks_dynamodb;
mod webhooks_embedded;
