//! Failed sign-in lockout: temporary, growing on repeat, and raced by nothing. Each password attempt is
//! recorded on the identity with a version-checked write *before* the password is verified, so however many
//! guesses arrive at once, at most `max_failures` are ever verified before the lock holds. It blocks
//! password sign-in only: sessions, CRM tokens and the server API keep working (the admin lock of
//! `/identities/{id}/lock` is the one that ends everything).

use super::records::{Identity, Record};
use super::{Identities, SessionContext, SignedIn, password};
use crate::config::ConfigError;
use crate::error::Error;
use crate::store::{Backoff, Condition, StoreError, Write};
use crate::time::unix_now;

pub const INVALID_CREDENTIALS: &str = "Invalid credentials";
pub const ACCOUNT_LOCKED: &str = "This account is locked";

pub const MAX_FAILURES: &str = "SWITCHBOARD_MAX_FAILED_SIGN_INS";
pub const LOCKOUT_SECONDS: &str = "SWITCHBOARD_LOCKOUT_SECONDS";
pub const LOCKOUT_MAX_SECONDS: &str = "SWITCHBOARD_LOCKOUT_MAX_SECONDS";

/// Attempts to record an attempt while other attempts write the same identity. Each lost race means another
/// attempt was recorded, and the lock holds after `max_failures` of them, so this bound is never reached
/// in practice; if it is, the answer is a refusal that verified nothing.
const ATTEMPT_RETRIES: usize = 64;

/// How many failures lock, and for how long: `seconds`, doubled on each lockout in a row, at most
/// `max_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub max_failures: u32,
    pub seconds: i64,
    pub max_seconds: i64,
}

impl Default for Lockout {
    /// Seed 003's five failures; 15 minutes, growing to a day at most.
    fn default() -> Self {
        Self {
            max_failures: 5,
            seconds: 15 * 60,
            max_seconds: 24 * 3600,
        }
    }
}

impl Lockout {
    /// From `SWITCHBOARD_MAX_FAILED_SIGN_INS`, `SWITCHBOARD_LOCKOUT_SECONDS` and
    /// `SWITCHBOARD_LOCKOUT_MAX_SECONDS` (positive integers), defaults for the ones not set.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            match env(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => Ok(default),
                Some(value) => {
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(ConfigError::Invalid {
                            name,
                            reason: "must be a positive integer".into(),
                        })
                }
            }
        };
        let seconds = number(LOCKOUT_SECONDS, defaults.seconds)?;
        Ok(Self {
            max_failures: u32::try_from(number(MAX_FAILURES, defaults.max_failures.into())?)
                .unwrap_or(u32::MAX),
            seconds,
            max_seconds: number(LOCKOUT_MAX_SECONDS, defaults.max_seconds.max(seconds))?
                .max(seconds),
        })
    }

    /// The length of lockout number `previous + 1` in a row.
    pub fn duration(&self, previous: u32) -> i64 {
        self.seconds
            .saturating_mul(1_i64.checked_shl(previous.min(32)).unwrap_or(i64::MAX))
            .min(self.max_seconds)
    }
}

/// What recording a password attempt decided.
enum Attempt {
    /// Recorded: the password may be verified against this identity (at the version the record wrote).
    Recorded(Box<Identity>),
    /// Admin-locked or in a lockout: nothing is verified.
    Locked,
    /// Too many concurrent writers to record it: nothing is verified.
    Busy,
}

impl Identity {
    /// In a failed sign-in lockout at `now`.
    pub fn locked_out(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
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
        let identity = match self.record_attempt(identity).await? {
            Attempt::Recorded(identity) => *identity,
            Attempt::Locked => return refuse(ACCOUNT_LOCKED).await,
            Attempt::Busy => return refuse(INVALID_CREDENTIALS).await,
        };
        if !password::verify(password.to_owned(), identity.password_hash.clone()).await {
            return Err(Error::Unauthorized(INVALID_CREDENTIALS.into()));
        }
        self.open_after_good_password(identity, context).await
    }

    /// Counts the attempt on the identity (version-checked), starting a lockout at `max_failures`.
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
            identity.failed_logins += 1;
            if identity.failed_logins >= self.lockout.max_failures {
                identity.locked_until = Some(now + self.lockout.duration(identity.lockouts));
                identity.lockouts += 1;
            }
            match self.store.update(identity.to_item()?).await {
                Ok(item) => {
                    identity.version = item.version;
                    return Ok(Attempt::Recorded(Box::new(identity)));
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

    /// The password was right: clears the count and opens the session in one transaction that checks the
    /// identity's version, so an admin lock or a lockout written meanwhile is never ignored.
    async fn open_after_good_password(
        &self,
        recorded: Identity,
        context: SessionContext,
    ) -> Result<SignedIn, Error> {
        let mut current = recorded;
        // The first pass writes over our own record (which may have started a lockout: it was admitted).
        let mut ours = true;
        let mut retry = Backoff::new(ATTEMPT_RETRIES);
        while retry.attempt().await {
            if !ours && (current.locked || current.locked_out(unix_now())) {
                return Err(Error::Unauthorized(ACCOUNT_LOCKED.into()));
            }
            let expected = current.version;
            let mut cleared = current.clone();
            cleared.failed_logins = 0;
            cleared.locked_until = None;
            cleared.lockouts = 0;
            let write = Write::Put(cleared.to_item()?, Condition::Version(expected));
            cleared.version = expected + 1;
            match self
                .start_session(cleared, context.clone(), vec![write])
                .await
            {
                Err(Error::Conflict(_)) => {}
                done => return done,
            }
            ours = false;
            match self.identity(&current.id).await? {
                Some(identity) => current = identity,
                None => break,
            }
        }
        Err(Error::Unauthorized(INVALID_CREDENTIALS.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn fifteen_minutes_growing_to_a_day_by_default() {
        let lockout = Lockout::from_env(&env(&[])).unwrap();
        assert_eq!(lockout.max_failures, 5);
        let lengths: Vec<i64> = (0..10).map(|n| lockout.duration(n)).collect();
        assert_eq!(&lengths[..4], &[900, 1800, 3600, 7200]);
        assert_eq!(lengths[9], 24 * 3600);
        assert_eq!(lockout.duration(u32::MAX), 24 * 3600);
    }

    #[test]
    fn configurable_and_checked() {
        let lockout = Lockout::from_env(&env(&[
            (MAX_FAILURES, "3"),
            (LOCKOUT_SECONDS, "60"),
            (LOCKOUT_MAX_SECONDS, "100"),
        ]))
        .unwrap();
        assert_eq!((lockout.max_failures, lockout.duration(0)), (3, 60));
        assert_eq!(lockout.duration(1), 100);
        for bad in ["0", "-5", "soon"] {
            assert!(
                Lockout::from_env(&env(&[(LOCKOUT_SECONDS, bad)])).is_err(),
                "{bad}"
            );
        }
    }
}
