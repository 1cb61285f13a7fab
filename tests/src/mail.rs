//! Mail that reaches people (issues 22 and 23), run unchanged on each storage backend through the local
//! server's mail path: `.eml` files in the data directory, written off the request path. A reset token
//! travels only by mail; no event, list or stored item carries it.

use std::time::Duration;

use serde_json::json;
use switchboard::identity::mail::Mail;
use switchboard::store::Record;

use crate::api::{Api, ORG};

/// One mail the local server wrote.
#[derive(Debug, Clone)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub file: String,
}

impl Letter {
    /// The reset token the mail's link carries.
    pub fn token(&self) -> String {
        token_in(&self.text)
    }
}

/// The token of the reset link in a mail's text (tests configure `…/reset?token={token}`).
pub fn token_in(text: &str) -> String {
    text.split_whitespace()
        .find_map(|word| word.strip_prefix("https://app.example.com/reset?token="))
        .unwrap_or_else(|| panic!("no reset link in {text}"))
        .to_owned()
}

/// `PATCH /accounts/{account} {token, password}`: the reset link's use; its status.
pub async fn reset_with(api: &Api, account: &str, token: &str, password: &str) -> u16 {
    let reply = api
        .patch(&format!("/accounts/{account}"))
        .json(json!({"token": token, "password": password}))
        .send()
        .await;
    assert!(reply.status < 500, "{}", reply.text);
    reply.status
}

/// Every mail written so far, oldest first.
pub fn inbox(api: &Api) -> Vec<Letter> {
    let dir = switchboard_local::mail_dir(&api.app.config, |_| None);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let file = std::fs::read_to_string(&path).unwrap();
            let (head, body) = file.split_once("\r\n\r\n").unwrap();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .unwrap_or_default()
                    .to_owned()
            };
            Letter {
                to: header("To"),
                subject: header("Subject"),
                text: body.replace("\r\n", "\n"),
                file: file.clone(),
            }
        })
        .collect()
}

/// The mail to `to`, waiting for the sender (it runs off the request path) until `count` have arrived.
pub async fn mail_to(api: &Api, to: &str, count: usize) -> Vec<Letter> {
    for _ in 0..100 {
        let letters: Vec<Letter> = inbox(api).into_iter().filter(|l| l.to == to).collect();
        if letters.len() >= count {
            return letters;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} mails to {to}: {:?}", inbox(api));
}

/// Waits until the mail of each request (keyed by its id) has been handled, sent or found unneeded.
pub async fn settled(api: &Api, requests: &[String]) {
    for id in requests {
        for attempt in 0.. {
            let item = api.app.store.get(&Mail::key_of(id)).await.unwrap();
            if item.is_some_and(|i| Mail::from_item(&i).unwrap().sent) {
                break;
            }
            assert!(attempt < 100, "mail {id} never sent");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The ids of the organization's requests, newest first.
async fn request_ids(api: &Api) -> Vec<String> {
    let (requests, _) = api
        .app
        .identities
        .requests(ORG, 100, None)
        .await
        .expect("requests");
    requests.into_iter().map(|r| r.id).collect()
}

async fn ask(api: &Api, email: &str) -> crate::api::Reply {
    api.post("/requests")
        .json(json!({"type": "passwordreset", "email": email}))
        .send()
        .await
}

/// A reset end to end: request, read the mail, set the password with the link's token, sign in with it.
/// The token opens no session, works once, lasts 30 minutes, and is in no event or answer.
pub async fn password_reset_by_email(api: &Api) {
    let robin = api
        .post("/accounts")
        .json(json!({"username": "robin", "password": "robin-password", "email": "Robin@Example.com"}))
        .send()
        .await
        .str("id");
    let known = ask(api, "robin@example.com").await;
    let unknown = ask(api, "nobody@example.com").await;
    assert_eq!((known.status, unknown.status), (202, 202), "{}", known.text);
    assert_eq!(known.body["type"], unknown.body["type"]);
    assert_eq!(known.body["email"], "robin@example.com");
    settled(api, &request_ids(api).await).await;

    let letters = mail_to(api, "robin@example.com", 1).await;
    let letter = &letters[0];
    assert_eq!(letter.subject, "Reset your password");
    assert!(
        letter
            .file
            .starts_with("From: Switchboard <no-reply@localhost>\r\n")
    );
    assert!(
        letter
            .text
            .contains("https://app.example.com/reset?token=sb_ott_"),
        "{}",
        letter.text
    );
    assert!(letter.text.contains("within 30 minutes"), "{}", letter.text);
    assert!(
        inbox(api).iter().all(|l| l.to != "nobody@example.com"),
        "no mail to an address without an account"
    );
    let token = letter.token();

    // Known only to the mail: no event, request or token view shows it.
    let admin = api.admin_token().await;
    let events = crate::outbox::pending(api).await;
    let reset = events
        .iter()
        .find(|e| e.event == "account.password_reset_requested")
        .expect("the reset is told");
    assert_eq!(reset.payload["accountId"], json!(robin));
    let seen = [
        serde_json::to_string(&events).unwrap(),
        api.get("/requests").bearer(&admin).send().await.text,
        api.get(&format!("/accounts/{robin}/tokens"))
            .bearer(&admin)
            .send()
            .await
            .text,
    ];
    for text in &seen {
        assert!(!text.contains(&token), "the token in {text}");
        assert!(!text.contains("sb_ott_"), "a token in {text}");
    }
    let tokens = api
        .get(&format!("/accounts/{robin}/tokens"))
        .bearer(&admin)
        .send()
        .await;
    let life = tokens.body[0]["expiresAt"].as_str().unwrap();
    let life = life.parse::<jiff::Timestamp>().unwrap().as_second() - switchboard::time::unix_now();
    assert!((1790..=1800).contains(&life), "30 minutes: {life}");

    // It opens no session, and is not used up by trying.
    let session = api
        .post("/sessions")
        .json(json!({"token": token}))
        .send()
        .await;
    assert_eq!(session.status, 403, "{}", session.text);
    assert!(session.message().contains("only sets a new password"));
    assert_eq!(
        reset_with(api, &robin, &token, "robin-password-2").await,
        200
    );
    api.sign_in("robin", "robin-password-2", None).await;
    let again = reset_with(api, &robin, &token, "robin-password-3").await;
    assert_eq!(again, 404, "used once");
}

/// Removing a request revokes the token its mail carried; a locked account gets no reset mail.
pub async fn a_removed_request_revokes_its_token(api: &Api) {
    let robin = api
        .post("/accounts")
        .json(json!({"username": "robin", "password": "robin-password", "email": "robin@example.com"}))
        .send()
        .await
        .str("id");
    ask(api, "robin@example.com").await;
    let ids = request_ids(api).await;
    settled(api, &ids).await;
    let token = mail_to(api, "robin@example.com", 1).await[0].token();
    let admin = api.admin_token().await;
    let removed = api
        .delete(&format!("/requests/{}", ids[0]))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(reset_with(api, &robin, &token, "evil-password").await, 404);
    api.sign_in("robin", "robin-password", None).await;

    let locked = api
        .post(&format!("/identities/{robin}/lock"))
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(locked.status, 204, "{}", locked.text);
    ask(api, "robin@example.com").await;
    settled(api, &request_ids(api).await).await;
    assert_eq!(
        inbox(api).len(),
        1,
        "no reset mail for a locked account: {:?}",
        inbox(api)
    );
}

/// A changed email is told to the address it leaves (the new one masked), by its owner's change or an
/// admin's; setting a first email tells no one.
pub async fn a_changed_email_is_told_to_the_old_address(api: &Api) {
    let (robin, _) = api.sign_up("robin", "robin-password").await;
    let token = api.sign_in("robin", "robin-password", None).await;
    let change = |email: &'static str| {
        api.patch(&format!("/accounts/{robin}"))
            .bearer(&token)
            .json(json!({"email": email, "currentPassword": "robin-password"}))
            .send()
    };
    assert_eq!(change("robin@example.com").await.status, 200);
    assert_eq!(change("robin@example.org").await.status, 200);
    let notice = &mail_to(api, "robin@example.com", 1).await[0];
    assert_eq!(notice.subject, "Your email address was changed");
    assert!(notice.text.contains("robin"), "{}", notice.text);
    assert!(notice.text.contains("r****@example.org"), "{}", notice.text);
    assert!(
        !notice.text.contains("robin@example.org"),
        "{}",
        notice.text
    );

    let admin = api.admin_token().await;
    let by_admin = api
        .patch(&format!("/accounts/{robin}"))
        .bearer(&admin)
        .json(json!({"email": "robin@example.net"}))
        .send()
        .await;
    assert_eq!(by_admin.status, 200, "{}", by_admin.text);
    let notice = &mail_to(api, "robin@example.org", 1).await[0];
    assert!(notice.text.contains("r****@example.net"), "{}", notice.text);
    assert_eq!(inbox(api).len(), 2, "{:?}", inbox(api));
}
