use std::sync::Arc;

use push::PushApi;
use switchboard::identity::Identities;
use switchboard::outbound::Outbound;
use switchboard::push::Push;
use switchboard::push::endpoints::Endpoints;
use switchboard::push::expo::Expo;
use switchboard::push::web_push::WebPush;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let (config, store) = switchboard::lambda::start().await?;
    let env = |name: &str| std::env::var(name).ok();
    let outbound = Arc::new(Outbound::new(config.outbound.clone()));
    let web_push = WebPush::from_env(env, None, outbound.clone())?.map(Arc::new);
    let expo = Arc::new(Expo::from_env(env, outbound));
    let endpoints = Endpoints::from_env(env).built(switchboard::lambda::aws_config().await);
    let state = Arc::new(PushApi {
        identities: Identities::new(store.clone(), &config),
        push: Push::new(store, Arc::new(endpoints)).with_senders(web_push, Some(expo)),
    });
    switchboard::lambda::serve(state, push::handle).await
}
