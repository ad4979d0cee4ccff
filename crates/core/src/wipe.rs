//! A lost laptop forgets everything. When the server answers a request with `device_revoked`
//! (an administrator revoked this device: `liaison-server device revoke`), the device deletes
//! its local data — the database with its WAL (attachment content included), the vault file and
//! the keychain entry — and then tells the server it did (`POST /v1/device/wiped`, the one
//! request a revoked device's token is still good for), so administrators see the wipe in
//! `liaison-server device list`. Unsent changes go with the rest: that is the point.

use crate::error::{Error, ErrorCode, Result};
use crate::profile::Profile;
use crate::sync;

/// What a wipe did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Wiped {
    /// What was deleted (file names, "the keychain entry").
    pub removed: Vec<String>,
    /// The server that revoked the device.
    pub server: Option<String>,
    /// Whether the server took the confirmation (`Err`: why not; the wipe happened anyway).
    pub confirmed: std::result::Result<(), String>,
}

impl Wiped {
    /// The error a person sees: what happened, and what they can do.
    pub fn explain(&self) -> Error {
        let server = self.server.as_deref().unwrap_or("the server");
        let told = match &self.confirmed {
            Ok(()) => "the server was told".to_owned(),
            Err(why) => format!("the server could not be told ({why})"),
        };
        Error::new(
            ErrorCode::DeviceRevoked,
            format!(
                "An administrator of {server} revoked this device, so its local data was wiped ({}); {told}. \
                 If this is your laptop and that was a mistake, ask the administrator, then set Liaison up again and sign in.",
                self.removed.join(", ")
            ),
        )
    }
}

/// Whether `error` is the server's answer to a revoked device.
pub fn is_revoked(error: &Error) -> bool {
    error.code == ErrorCode::DeviceRevoked
}

/// Wipe this device after the server said it was revoked (see the module's documentation).
/// The profile must be unlocked (the session to confirm with is inside the encrypted store);
/// a locked profile is wiped too, without the confirmation.
pub async fn forget_revoked(profile: &mut Profile) -> Result<Wiped> {
    let link = profile.store_ref().ok().and_then(|store| sync::server_link(store).ok());
    let server = link.as_ref().map(|l| l.base().to_owned());
    let removed = profile.wipe()?;
    tracing::warn!(?removed, "this device was revoked by its server; its local data was wiped");
    let confirmed = match &link {
        Some(link) => link.confirm_wiped().await.map_err(|e| e.message),
        None => Err("this device no longer knew its session".to_owned()),
    };
    Ok(Wiped { removed, server, confirmed })
}
