//! `GET /crmManifest?platformName=switchboard`: the platform manifest the App Connect extension loads from its
//! "custom manifest URL" setting. It names this server (`serverUrl`), the one platform and how to log in to it
//! (a Switchboard personal API key).

use serde_json::{Value, json};

use super::PLATFORM;

/// The manifest for a server reachable at `server_url` (no trailing slash).
pub fn manifest(server_url: &str) -> Value {
    let host = server_url
        .split_once("://")
        .map_or(server_url, |(_, rest)| rest);
    json!({
        "serverUrl": server_url,
        "version": env!("CARGO_PKG_VERSION"),
        "author": { "name": "Switchboard" },
        "platforms": {
            PLATFORM: {
                "name": PLATFORM,
                "displayName": "Switchboard",
                "urlIdentifier": host,
                "auth": {
                    "type": "apiKey",
                    "apiKey": {
                        "page": {
                            "title": "Switchboard",
                            "content": [{
                                "const": "apiKey",
                                "title": "Personal API key",
                                "type": "string",
                                "required": true,
                            }],
                        },
                    },
                },
                // Switchboard has no contact pages of its own to open.
                "contactPageUrl": "",
                "canOpenLogPage": false,
                "page": {
                    "callLog": { "additionalFields": [] },
                    "messageLog": { "additionalFields": [] },
                },
            },
        },
    })
}
