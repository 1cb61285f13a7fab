//! The member directory (docs/members.md): members of an organization find each other by name, username or
//! email. Search is a case- and accent-insensitive **word prefix** match: `jo` finds "José Díaz",
//! "johnny" and "ana.jones@example.com". Each account's and each profile's searchable words are stored as
//! term items in the same transactions that change them, partitioned by the word's first letter, so a search
//! is one `Query` of one term partition, never a scan, at any organization size.
//!
//! Last seen: any authenticated request of a user refreshes a `SEEN` item beside its identity, at most once a
//! minute; a member's `status` follows from it (online within 2 minutes, away within 15, else offline).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use icu_casemap::CaseMapper;
use icu_normalizer::DecomposingNormalizerBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::records::{Identity, Profile};
use super::{Identities, Principal};
use crate::error::Error;
use crate::store::{Condition, Item, Key, Query, Record, Store, StoreError, Write, versioned};
use crate::time::{unix_now, unix_to_rfc3339};

/// Words kept per account or profile, and their longest stored prefix.
const MAX_TERMS: usize = 16;
const MAX_TERM_CHARS: usize = 32;
/// A user's last-seen mark moves at most this often.
pub const SEEN_EVERY_SECONDS: i64 = 60;
const ONLINE_SECONDS: i64 = 2 * 60;
const AWAY_SECONDS: i64 = 15 * 60;
/// The most matches one search reads (pages × limit).
pub const MAX_RESULTS: usize = 1000;

/// Which record a term came from: the account (username, email) or its profile (name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Account,
    Profile,
}

impl Source {
    fn tag(self) -> &'static str {
        match self {
            Source::Account => "a",
            Source::Profile => "p",
        }
    }
}

/// Case-folded, without accents (NFKD, marks dropped): `José` and `JOSE` fold alike.
pub fn fold(text: &str) -> String {
    let marks = CodePointMapData::<GeneralCategory>::new();
    let decomposed = DecomposingNormalizerBorrowed::new_nfkd().normalize(text);
    let bare: String = decomposed
        .chars()
        .filter(|c| {
            !matches!(
                marks.get(*c),
                GeneralCategory::NonspacingMark
                    | GeneralCategory::SpacingMark
                    | GeneralCategory::EnclosingMark
            )
        })
        .collect();
    CaseMapper::new().fold_string(&bare).into_owned()
}

/// The searchable words of `texts`: folded, split at anything not a letter or digit.
pub fn terms<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for text in texts {
        for word in fold(text).split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() && out.len() < MAX_TERMS {
                out.insert(word.chars().take(MAX_TERM_CHARS).collect());
            }
        }
    }
    out
}

pub fn account_terms(identity: &Identity) -> BTreeSet<String> {
    terms(
        [Some(identity.username.as_str()), identity.email.as_deref()]
            .into_iter()
            .flatten(),
    )
}

pub fn profile_terms(profile: &Profile) -> BTreeSet<String> {
    terms([profile.name.as_str()])
}

/// One searchable word of one member.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Term {
    #[serde(skip)]
    organization_id: String,
    #[serde(skip)]
    term: String,
    #[serde(skip)]
    source: String,
    identity_id: String,
    #[serde(skip)]
    version: u64,
}

fn partition(org: &str, term: &str) -> String {
    let first: String = term.chars().take(1).collect();
    format!("MEMBERS#{org}#{first}")
}

impl Record for Term {
    fn key(&self) -> Key {
        Key::new(
            partition(&self.organization_id, &self.term),
            format!("{}#{}#{}", self.term, self.identity_id, self.source),
        )
    }
    versioned!();
}

/// The writes that move a member's `source` terms from `before` to `after`, in the change's transaction.
pub fn term_writes(
    org: &str,
    identity_id: &str,
    source: Source,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> Result<Vec<Write>, Error> {
    let term = |word: &String| Term {
        organization_id: org.to_owned(),
        term: word.clone(),
        source: source.tag().to_owned(),
        identity_id: identity_id.to_owned(),
        version: 0,
    };
    let mut writes = Vec::new();
    for gone in before.difference(after) {
        writes.push(Write::Delete(term(gone).key(), Condition::Exists));
    }
    for new in after.difference(before) {
        writes.push(Write::Put(term(new).to_item()?, Condition::Absent));
    }
    Ok(writes)
}

/// When a user was last seen: beside its identity, so the access check reads it in the same round trip.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastSeen {
    #[serde(skip)]
    pub identity_id: String,
    pub at: i64,
    #[serde(skip)]
    pub version: u64,
}

impl LastSeen {
    pub fn key_of(identity_id: &str) -> Key {
        Key::new(format!("IDENT#{identity_id}"), "SEEN")
    }

    /// `online` within 2 minutes, `away` within 15, else `offline`.
    pub fn status(at: Option<i64>) -> &'static str {
        match at.map(|at| unix_now() - at) {
            Some(ago) if ago < ONLINE_SECONDS => "online",
            Some(ago) if ago < AWAY_SECONDS => "away",
            _ => "offline",
        }
    }
}

impl Record for LastSeen {
    fn key(&self) -> Key {
        Self::key_of(&self.identity_id)
    }
    versioned!();
}

/// A member as fellow members see it.
#[derive(Debug, Clone)]
pub struct Member {
    pub identity: Identity,
    pub profile: Option<Profile>,
    pub last_seen: Option<i64>,
}

impl Member {
    /// The directory's view; `avatar` is the profile's shown avatar (`{url, objectId}` or null), and
    /// `contact` adds email and phone.
    pub fn view(&self, avatar: &Value, contact: bool) -> Value {
        let property = |name: &str| {
            self.profile
                .as_ref()
                .and_then(|p| p.properties.get(name).cloned())
                .unwrap_or(Value::Null)
        };
        let mut view = json!({
            "id": self.profile.as_ref().map_or(&self.identity.id, |p| &p.id),
            "identityId": self.identity.id,
            "externalId": self.identity.external_id,
            "username": self.identity.username,
            "displayName": self.profile.as_ref().map(|p| &p.name),
            "firstName": property("firstName"),
            "lastName": property("lastName"),
            "avatarUrl": avatar.get("url").cloned().unwrap_or(Value::Null),
            "status": LastSeen::status(self.last_seen),
            "lastSeenAt": self.last_seen.map(unix_to_rfc3339),
        });
        if contact {
            view["email"] = json!(self.identity.email);
            view["phone"] = json!(self.identity.phone);
        }
        view
    }

    /// Every query word is a prefix of one of the member's words.
    fn matches(&self, words: &[String]) -> bool {
        let mut own = account_terms(&self.identity);
        if let Some(profile) = &self.profile {
            own.extend(profile_terms(profile));
        }
        words
            .iter()
            .all(|word| own.iter().any(|term| term.starts_with(word.as_str())))
    }
}

/// The last-seen marks this process has read or moved. A request that would read the mark with a call of
/// its own (a CRM write, an SDK or external token's check) skips that call for a user the process saw
/// within the minute: a warm function serving one user makes one DynamoDB call fewer per write. The
/// store's mark can only be newer than one noted here, so skipping is what reading it would have decided.
#[derive(Default)]
pub struct SeenMarks(Mutex<HashMap<String, i64>>);

/// Users whose marks one process remembers; past that, the stale ones are forgotten first.
const SEEN_REMEMBERED: usize = 4096;

impl SeenMarks {
    /// Whether `identity_id`'s mark is known to have moved less than a minute ago.
    pub fn fresh(&self, identity_id: &str) -> bool {
        let now = unix_now();
        self.0
            .lock()
            .ok()
            .and_then(|marks| marks.get(identity_id).copied())
            .is_some_and(|at| now - at < SEEN_EVERY_SECONDS)
    }

    fn note(&self, identity_id: &str, at: i64) {
        let Ok(mut marks) = self.0.lock() else { return };
        if let Some(seen) = marks.get_mut(identity_id) {
            *seen = at.max(*seen);
            return;
        }
        if marks.len() >= SEEN_REMEMBERED {
            let now = unix_now();
            marks.retain(|_, seen| now - *seen < SEEN_EVERY_SECONDS);
            if marks.len() >= SEEN_REMEMBERED {
                marks.clear();
            }
        }
        marks.insert(identity_id.to_owned(), at);
    }

    /// Moves a user's last-seen mark if it is a minute old (or missing), after an authenticated request
    /// read it (`seen`) with its token check. A lost race means another request just moved it.
    pub async fn mark(&self, store: &dyn Store, identity_id: &str, seen: Option<&Item>) {
        let now = unix_now();
        let seen = seen.and_then(|item| LastSeen::from_item(item).ok());
        let condition = match &seen {
            Some(s) if now - s.at < SEEN_EVERY_SECONDS => return self.note(identity_id, s.at),
            Some(s) => Condition::Version(s.version),
            None => Condition::Absent,
        };
        let mark = LastSeen {
            identity_id: identity_id.to_owned(),
            at: now,
            version: 0,
        };
        let write = match mark.to_item() {
            Ok(item) => Write::Put(item, condition),
            Err(_) => return,
        };
        match store.transact(vec![write]).await {
            Ok(()) | Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                self.note(identity_id, now)
            }
            Err(e) => tracing::warn!(error = %e, "last seen not recorded"),
        }
    }
}

impl Identities {
    /// Members of the caller's organization whose words start with every word of `query`, or everyone
    /// (by creation) without one; page `page` of `limit`.
    pub async fn members(
        &self,
        caller: &Principal,
        query: Option<&str>,
        page: usize,
        limit: usize,
    ) -> Result<Vec<Member>, Error> {
        let org = &caller.identity.organization_id;
        let skip = (page - 1) * limit;
        let words: Vec<String> = query
            .map(|q| terms([q]).into_iter().collect())
            .unwrap_or_default();
        // The longest word narrows the most.
        let Some(first) = words.iter().max_by_key(|w| w.chars().count()) else {
            let (identities, _) = self
                .list_identities(org, (skip + limit) as u32, false, None)
                .await?;
            let page: Vec<Identity> = identities.into_iter().skip(skip).collect();
            return self.members_of(page).await;
        };
        let mut query = Query::new(partition(org, first))
            .prefix(first.clone())
            .limit(200);
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut matched = 0;
        loop {
            let page = self.store.query(&query).await?;
            let mut ids = Vec::new();
            for item in &page.items {
                let term = Term::from_item(item)?;
                if seen.insert(term.identity_id.clone()) {
                    ids.push(term.identity_id);
                }
            }
            let identities = self.identities_by_id(&ids).await?;
            for member in self.members_of(identities).await? {
                if member.matches(&words) {
                    matched += 1;
                    if matched > skip {
                        out.push(member);
                        if out.len() == limit {
                            return Ok(out);
                        }
                    }
                }
            }
            match page.cursor {
                Some(cursor) if seen.len() < MAX_RESULTS => query = query.after(Some(cursor)),
                _ => return Ok(out),
            }
        }
    }

    /// One member of the caller's organization, by profile id (or, for one without a profile, identity id).
    pub async fn member(&self, caller: &Principal, id: &str) -> Result<Option<Member>, Error> {
        let org = &caller.identity.organization_id;
        let identity = match self.profile(id).await? {
            Some(profile) => self.identity(&profile.identity_id).await?,
            None => self.identity(id).await?.filter(|i| i.profile_id.is_none()),
        };
        match identity.filter(|i| &i.organization_id == org) {
            Some(identity) => Ok(self.members_of(vec![identity]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn identities_by_id(&self, ids: &[String]) -> Result<Vec<Identity>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Key> = ids.iter().map(|id| Identity::key_of(id)).collect();
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            for item in self.store.batch_get(chunk).await? {
                found.push(Identity::from_item(&item)?);
            }
        }
        // In the order the search found them.
        found.sort_by_key(|i| ids.iter().position(|id| *id == i.id));
        Ok(found)
    }

    /// The members of `identities`: their profiles and last-seen marks in one batch.
    async fn members_of(&self, identities: Vec<Identity>) -> Result<Vec<Member>, Error> {
        let mut keys = Vec::new();
        for identity in &identities {
            keys.push(LastSeen::key_of(&identity.id));
            if let Some(profile) = &identity.profile_id {
                keys.push(Profile::key_of(profile));
            }
        }
        let mut items = Vec::new();
        for chunk in keys.chunks(100) {
            items.extend(self.store.batch_get(chunk).await?);
        }
        let find = |key: &Key| items.iter().find(|i| i.key == *key);
        let mut members = Vec::with_capacity(identities.len());
        for identity in identities {
            let profile = match &identity.profile_id {
                Some(id) => find(&Profile::key_of(id))
                    .map(Profile::from_item)
                    .transpose()?,
                None => None,
            };
            let last_seen = find(&LastSeen::key_of(&identity.id))
                .map(LastSeen::from_item)
                .transpose()?
                .map(|s| s.at);
            members.push(Member {
                identity,
                profile,
                last_seen,
            });
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_fresh_for_a_minute_and_the_memory_stays_bounded() {
        let marks = SeenMarks::default();
        let now = unix_now();
        assert!(!marks.fresh("a"), "never seen");
        marks.note("a", now - SEEN_EVERY_SECONDS + 2);
        assert!(marks.fresh("a"));
        marks.note("a", now - 3600);
        assert!(marks.fresh("a"), "an older read does not set it back");
        marks.note("z", now - SEEN_EVERY_SECONDS);
        assert!(!marks.fresh("z"), "a minute old: read and moved again");
        for i in 2..SEEN_REMEMBERED {
            marks.note(&i.to_string(), now - 3600);
        }
        marks.note("b", now);
        assert!(marks.fresh("a") && marks.fresh("b"));
        assert_eq!(
            marks.0.lock().unwrap().len(),
            2,
            "stale marks are forgotten first"
        );
    }

    #[test]
    fn words_fold_case_and_accents() {
        assert_eq!(fold("José ÁLVAREZ"), "jose alvarez");
        assert_eq!(fold("Straße"), "strasse");
        let words = terms(["Ana-María O'Neil", "ana.maria@Example.COM"]);
        let expected: BTreeSet<String> = ["ana", "maria", "o", "neil", "example", "com"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(words, expected);
        assert!(
            terms(["x".repeat(40).as_str()])
                .iter()
                .all(|t| t.len() == 32)
        );
        assert_eq!(
            terms(["a b c d e f g h i j k l m n o p q r s"]).len(),
            MAX_TERMS
        );
    }

    #[test]
    fn status_follows_last_seen() {
        let now = unix_now();
        assert_eq!(LastSeen::status(Some(now - 30)), "online");
        assert_eq!(LastSeen::status(Some(now - 5 * 60)), "away");
        assert_eq!(LastSeen::status(Some(now - 3600)), "offline");
        assert_eq!(LastSeen::status(None), "offline");
    }

    #[test]
    fn a_change_writes_only_what_moved() {
        let before = terms(["robin hood"]);
        let after = terms(["robin locksley"]);
        let writes = term_writes("org", "i1", Source::Profile, &before, &after).unwrap();
        let keys: Vec<String> = writes.iter().map(|w| w.key().sk.clone()).collect();
        assert_eq!(keys, ["hood#i1#p", "locksley#i1#p"]);
        assert!(matches!(writes[0], Write::Delete(..)));
        assert!(matches!(writes[1], Write::Put(..)));
        assert_eq!(writes[1].key().pk, "MEMBERS#org#l");
    }
}
