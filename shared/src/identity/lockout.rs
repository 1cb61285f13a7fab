//! Failed sign-in lockout: temporary, growing on repeat, and raced by nothing. Each password attempt is
//! admitted on the identity with a version-checked write *before* the password is verified, and only while
//! failures plus attempts in flight stay under `max_failures`, so however many guesses arrive at once, at
//! most `max_failures` are ever verified before the lock holds. Only verified failures start a lockout: a
//! correct attempt cut short (an outage) drops out after [`PENDING_SECONDS`] instead of counting. It blocks
//! password sign-in only: sessions, CRM tokens and the server API keep working (the admin lock of
//! `/identities/{id}/lock` is the one that ends everything).

use super::records::Identity;
use super::{Identities, SessionContext, SignedIn, password};
use crate::error::Error;
use crate::store::{Backoff, Condition, Record, StoreError, Write};
use crate::time::unix_now;

pub const INVALID_CREDENTIALS: &str = "Invalid credentials";
pub const ACCOUNT_LOCKED: &str = "This account is locked";

/// Attempts to record an attempt while other attempts write the same identity. Each lost race means another
/// attempt was recorded, and the lock holds after `max_failures` of them, so this bound is never reached
/// in practice; if it is, the answer is a refusal that verified nothing.
const ATTEMPT_RETRIES: usize = 64;
/// How long an admitted attempt counts as in flight: well past a verification and its write (each store call
/// gives up after 3 s).
pub const PENDING_SECONDS: i64 = 10;

/// What recording a password attempt decided.
enum Attempt {
    /// Admitted at the given time: the password may be verified against this identity (at the version the
    /// record wrote).
    Recorded(Box<Identity>, i64),
    /// Admin-locked, in a lockout, or as many attempts in flight as failures allowed: nothing is verified.
    Locked,
    /// Too many concurrent writers to record it: nothing is verified.
    Busy,
}

impl Identity {
    /// In a failed sign-in lockout at `now`.
    pub fn locked_out(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// Resolves the attempt admitted at `admitted`.
    fn resolve_attempt(&mut self, admitted: i64) {
        if let Some(at) = self.pending_attempts.iter().position(|t| *t == admitted) {
            self.pending_attempts.remove(at);
        }
    }
}

impl Identities {
    /// Sign-in with username and password. Unknown users, identities without a password and locked
    /// identities cost the same dummy hash as a wrong password; a locked identity answers "This account is
    /// locked" whatever the password, and only an attempt recorded beforehand is verified.
    pub async fn sign_in_with_password(
        &self,
        org: &str,
        username: &str,
        password: &str,
        context: SessionContext,
    ) -> Result<SignedIn, Error> {
        let refuse = |message: &'static str| async move {
            password::verify(password.to_owned(), None).await;
            Err(Error::Unauthorized(message.into()))
        };
        let found = self.identity_by_username(org, username).await?;
        // An identity without a password (server API users) cannot be signed into with one, nor locked.
        let Some(identity) = found.filter(|i| i.password_hash.is_some()) else {
            return refuse(INVALID_CREDENTIALS).await;
        };
        let (identity, admitted) = match self.record_attempt(identity).await? {
            Attempt::Recorded(identity, admitted) => (*identity, admitted),
            Attempt::Locked => return refuse(ACCOUNT_LOCKED).await,
            Attempt::Busy => return refuse(INVALID_CREDENTIALS).await,
        };
        if !password::verify(password.to_owned(), identity.password_hash.clone()).await {
            self.record_failure(identity, admitted).await?;
            return Err(Error::Unauthorized(INVALID_CREDENTIALS.into()));
        }
        self.open_after_good_password(identity, admitted, context)
            .await
    }

    /// Admits the attempt on the identity (version-checked) while failures and attempts in flight stay
    /// under `max_failures`.
    async fn record_attempt(&self, mut identity: Identity) -> Result<Attempt, Error> {
        let mut retry = Backoff::new(ATTEMPT_RETRIES);
        while retry.attempt().await {
            let now = unix_now();
            if identity.locked || identity.locked_out(now) {
                return Ok(Attempt::Locked);
            }
            if identity.locked_until.take().is_some() {
                // A lockout that has run out: the count starts again (its length keeps growing).
                identity.failed_logins = 0;
            }
            identity
                .pending_attempts
                .retain(|t| now - t < PENDING_SECONDS);
            let in_flight = u32::try_from(identity.pending_attempts.len()).unwrap_or(u32::MAX);
            if identity.failed_logins.saturating_add(in_flight) >= self.lockout.max_failures {
                // Sign-in is shut until attempts in flight resolve: the same answer as a lockout.
                return Ok(Attempt::Locked);
            }
            identity.pending_attempts.push(now);
            match self.store.update(identity.to_item()?).await {
                Ok(item) => {
                    identity.version = item.version;
                    return Ok(Attempt::Recorded(Box::new(identity), now));
                }
                Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                    match self.identity(&identity.id).await? {
                        Some(current) => identity = current,
                        None => return Ok(Attempt::Busy),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Attempt::Busy)
    }

    /// The password was wrong: counts the failure (version-checked), starting a lockout at `max_failures`.
    async fn record_failure(&self, mut identity: Identity, admitted: i64) -> Result<(), Error> {
        let mut retry = Backoff::new(ATTEMPT_RETRIES);
        while retry.attempt().await {
            let now = unix_now();
            identity.resolve_attempt(admitted);
            identity.failed_logins += 1;
            if identity.failed_logins >= self.lockout.max_failures && !identity.locked_out(now) {
                identity.locked_until = Some(now + self.lockout.duration(identity.lockouts));
                identity.lockouts += 1;
            }
            match self.store.update(identity.to_item()?).await {
                Ok(_) => return Ok(()),
                Err(StoreError::ConditionFailed | StoreError::Conflict) => {
                    match self.identity(&identity.id).await? {
                        Some(current) => identity = current,
                        None => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The password was right: clears the count and opens the session in one transaction that checks the
    /// identity's version, so an admin lock or a lockout written meanwhile is never ignored.
    async fn open_after_good_password(
        &self,
        recorded: Identity,
        admitted: i64,
        context: SessionContext,
    ) -> Result<SignedIn, Error> {
        let mut current = recorded;
        let mut retry = Backoff::new(ATTEMPT_RETRIES);
        while retry.attempt().await {
            if current.locked || current.locked_out(unix_now()) {
                return Err(Error::Unauthorized(ACCOUNT_LOCKED.into()));
            }
            let expected = current.version;
            let mut cleared = current.clone();
            cleared.failed_logins = 0;
            cleared.locked_until = None;
            cleared.lockouts = 0;
            cleared.resolve_attempt(admitted);
            let write = Write::Put(cleared.to_item()?, Condition::Version(expected));
            cleared.version = expected + 1;
            match self
                .start_session(cleared, context.clone(), vec![write])
                .await
            {
                Err(Error::Conflict(_)) => {}
                done => return done,
            }
            match self.identity(&current.id).await? {
                Some(identity) => current = identity,
                None => break,
            }
        }
        Err(Error::Unauthorized(INVALID_CREDENTIALS.into()))
    }
}
