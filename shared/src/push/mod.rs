//! Push notifications. The domain rules: [`preferences`] is antz's `UserPreferences` with its partial
//! update, [`rules`] decides whether and how a notification reaches a user, [`devices`] validates a device
//! registration, and [`sns`] builds the per-platform SNS message. The service over the store: [`registry`]
//! (devices and preferences), [`notifications`] (recording and reading), [`dispatch`] (the fan-out), with
//! SNS platform endpoints in [`endpoints`], Web Push in [`web_push`] and Expo in [`expo`].

pub mod devices;
pub mod dispatch;
pub mod endpoints;
pub mod expo;
pub mod notifications;
pub mod preferences;
pub mod records;
pub mod registry;
pub mod rules;
pub mod sns;
pub mod web_push;

use std::sync::Arc;

use crate::store::Store;
use endpoints::Endpoints;
use expo::Expo;
use web_push::WebPush;

/// Called with a notification's id once it is recorded: the local server dispatches it in process (in
/// AWS the table's stream does).
pub type OnRecorded = Arc<dyn Fn(&str) + Send + Sync>;

/// The push service: devices, preferences, notifications and their delivery.
#[derive(Clone)]
pub struct Push {
    store: Arc<dyn Store>,
    pub endpoints: Arc<Endpoints>,
    /// `None`: no VAPID key configured, Web Push is off.
    pub web_push: Option<Arc<WebPush>>,
    /// `None`: Expo is off.
    pub expo: Option<Arc<Expo>>,
    on_recorded: Option<OnRecorded>,
}

impl Push {
    pub fn new(store: Arc<dyn Store>, endpoints: Arc<Endpoints>) -> Self {
        Self {
            store,
            endpoints,
            web_push: None,
            expo: None,
            on_recorded: None,
        }
    }

    /// With the Web Push and Expo senders.
    pub fn with_senders(mut self, web_push: Option<Arc<WebPush>>, expo: Option<Arc<Expo>>) -> Self {
        self.web_push = web_push;
        self.expo = expo;
        self
    }

    /// With `hook` called after each notification is recorded.
    pub fn on_recorded(mut self, hook: OnRecorded) -> Self {
        self.on_recorded = Some(hook);
        self
    }
}
