//! The first start of a local server with the embedded store and no bootstrap variables: it creates the
//! default organization and an admin with a generated password and personal API key, prints them once and
//! keeps them in the data directory (readable by its owner only). On DynamoDB bootstrap stays explicit.

use std::path::{Path, PathBuf};

use serde_json::json;
use switchboard::App;
use switchboard::config::write_private;
use switchboard::error::Error;
use switchboard::identity::bootstrap::Bootstrap;
use switchboard::identity::secrets;

pub const ADMIN_USERNAME: &str = "admin";

/// Where the generated credentials are kept.
pub fn credentials_file(data_dir: &Path) -> PathBuf {
    data_dir.join("first-start-credentials.json")
}

/// Creates the organization and admin if the default organization does not exist; returns the message to
/// print (with the secrets), or `None` when there was nothing to do.
pub async fn first_start(app: &App, data_dir: &Path) -> Result<Option<String>, Error> {
    let org = app.identities.default_organization.clone();
    if app.identities.organization(&org).await?.is_some() {
        return Ok(None);
    }
    let settings = Bootstrap {
        organization_id: org.clone(),
        api_key: secrets::generate("sb_org_"),
        api_secret: secrets::generate(""),
        admin_username: ADMIN_USERNAME.into(),
        admin_password: secrets::generate(""),
    };
    app.identities.bootstrap(&settings).await?;
    let admin = app
        .identities
        .identity_by_username(&org, ADMIN_USERNAME)
        .await?
        .ok_or_else(|| Error::Internal("the first admin was not created".into()))?;
    let (_, admin_api_key) = app
        .identities
        .create_api_key(&admin, Some("first start".into()))
        .await?;
    let credentials = json!({
        "organizationId": org,
        "organizationApiKey": settings.api_key,
        "organizationApiSecret": settings.api_secret,
        "adminUsername": ADMIN_USERNAME,
        "adminPassword": settings.admin_password,
        "adminApiKey": admin_api_key,
    });
    let file = credentials_file(data_dir);
    write_private(&file, &format!("{credentials:#}\n"))
        .map_err(|e| Error::Internal(format!("keeping {}: {e}", file.display())))?;
    Ok(Some(format!(
        "First start: created organization {org} and its admin. Shown once, kept in {file}:

    admin username        {ADMIN_USERNAME}
    admin password        {password}
    admin API key         {admin_api_key}   (CRM extension: POST /apiKeyLogin)
    organization API key  {api_key}   (server SDKs)
    organization secret   {api_secret}

Lost the admin? `switchboard-local bootstrap` with the SWITCHBOARD_* variables unlocks it and resets
its password (see README).",
        file = file.display(),
        password = settings.admin_password,
        api_key = settings.api_key,
        api_secret = settings.api_secret,
    )))
}
