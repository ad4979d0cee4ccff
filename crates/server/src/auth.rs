//! Passwords, device tokens, the [`Authed`] extractor and the login rate limit.
//!
//! * Passwords are Argon2id PHC strings with the `argon2` crate's default parameters, which are
//!   the OWASP minimum (19 MiB, 2 iterations, 1 lane).
//! * A device token is 32 random bytes in hex, returned once by login; the server keeps only its
//!   SHA-256, so a copy of the database does not let anyone sign in.

use crate::AppState;
use crate::error::ApiError;
use crate::storage::{Device, DeviceAuth, User, name_key};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;
use liaison_protocol::error::ErrorCode;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Passwords shorter than this are refused when an account is created.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hash a password with Argon2id (default parameters) and a random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Check a password against a PHC string. An unparsable hash never verifies.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash to verify against when the user does not exist, so an unknown name costs as much time
/// as a wrong password and timing does not tell which names exist.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("liaison-dummy-password").unwrap_or_default())
}

/// A new device token: 32 random bytes, hex-encoded (64 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the server stores for a token: the lowercase hex SHA-256 of its text.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The authenticated caller: a device that is not revoked, and its user.
/// Extracting it answers 401 `unauthenticated` or 401 `device_revoked` otherwise.
#[derive(Debug, Clone)]
pub struct Authed {
    pub user: User,
    pub device: Device,
}

/// How stale `last_seen_at` may get before a request writes it again (saves a write per request).
const TOUCH_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = device_of(&parts.headers, state).await?;
        if auth.device.is_revoked() {
            tracing::info!(device = %auth.device.id, "a revoked device was refused");
            let device = format!("device:{}", auth.device.id);
            crate::audit::record(&*state.storage, &auth.user.name, "revoked_device_refused", &device, "").await;
            return Err(ApiError::new(
                ErrorCode::DeviceRevoked,
                "This device was revoked by an administrator; its local data must be wiped",
            ));
        }
        let now = Utc::now();
        if now - auth.device.last_seen_at > TOUCH_INTERVAL {
            // Failing to record the time is no reason to refuse the request.
            if let Err(e) = state.storage.touch_device(auth.device.id, now).await {
                tracing::warn!(error = %e, "could not record when a device was last seen");
            }
        }
        Ok(Authed { user: auth.user, device: auth.device })
    }
}

/// The device whose token the request carries, revoked or not (only `POST /v1/device/wiped`
/// serves a revoked device: everything else goes through [`Authed`]).
pub async fn device_of(headers: &axum::http::HeaderMap, state: &AppState) -> Result<DeviceAuth, ApiError> {
    let unauthenticated =
        || ApiError::new(ErrorCode::Unauthenticated, "This request needs a device token; sign in to the server again.");
    let header = headers.get(AUTHORIZATION).ok_or_else(unauthenticated)?;
    let value = header.to_str().map_err(|_| unauthenticated())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(unauthenticated)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(unauthenticated());
    }
    let found = state.storage.find_device_by_token_hash(&token_hash(token)).await?;
    match found {
        Some(auth) => Ok(auth),
        None => {
            crate::audit::record(&*state.storage, "unknown", "token_refused", "device:unknown", "").await;
            Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "This device token is not known to the server; sign in again.",
            ))
        }
    }
}

/// Counts failed logins per user name in a sliding window; memory only, forgotten on restart.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Beyond this many tracked names, expired entries are swept so spraying names cannot grow memory forever.
const SWEEP_ABOVE: usize = 10_000;

impl Default for LoginLimiter {
    /// 10 failed attempts per user name per minute.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60))
    }
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    fn key(name: &str) -> String {
        name_key(name).chars().take(128).collect()
    }

    /// Whether another attempt for this name is allowed now.
    pub fn allows(&self, name: &str, now: Instant) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(times) = map.get_mut(&Self::key(name)) else { return true };
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            times.pop_front();
        }
        times.len() < self.max_failures
    }

    /// Record a failed attempt.
    pub fn record_failure(&self, name: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > SWEEP_ABOVE {
            let window = self.window;
            map.retain(|_, times| times.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let times = map.entry(Self::key(name)).or_default();
        times.push_back(now);
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }

    /// Forget the failures of a name after a successful login.
    pub fn record_success(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(&Self::key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "Argon2id is the required variant: {hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a phc string"), "garbage hashes never verify");
    }

    #[test]
    fn tokens_are_256_bit_hex_and_hashed_with_sha256() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64, "32 bytes in hex");
        assert_ne!(a, b, "tokens are random");
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256 test vector"
        );
    }

    #[test]
    fn the_limiter_blocks_after_too_many_failures_and_forgets_after_the_window() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.allows("Ana", t0));
            limiter.record_failure("Ana", t0);
        }
        assert!(!limiter.allows("ana", t0), "names are counted without case");
        assert!(limiter.allows("bob", t0), "other names are not affected");
        assert!(limiter.allows("ana", t0 + Duration::from_secs(61)), "failures expire after the window");
    }
}
