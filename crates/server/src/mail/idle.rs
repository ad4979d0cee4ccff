//! IMAP IDLE (RFC 2177): mail arriving in a queue's mailbox is read within seconds instead of at
//! the next poll.
//!
//! [`watch`] keeps one connection per mailbox in IDLE on its folder. When the server says
//! something changed (a new message, `EXISTS`), it wakes the worker ([`super::run`]), which runs
//! a round at once; reading the mail stays the one idempotent [`super::fetch`] pass. IDLE is
//! re-issued every [`REISSUE`] (servers may drop an IDLE after 30 minutes), and a connection that
//! fails is opened again after a pause that grows to [`MAX_PAUSE`]. A server without IDLE is left
//! to polling (`LIAISON_MAIL_POLL_SECS`), which always runs beside it as the fallback.

use super::{MailError, Mailbox};
use async_imap::extensions::idle::IdleResponse;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How long one IDLE lasts before it is issued again: under the 29 minutes RFC 2177 allows.
pub const REISSUE: Duration = Duration::from_secs(25 * 60);
/// The longest pause before connecting again after a failure.
pub const MAX_PAUSE: Duration = Duration::from_secs(300);

/// Watch `mailbox` until the task is dropped (aborted); `wake` is notified whenever its folder
/// changes. Never returns but for a server without IDLE.
pub async fn watch(mailbox: Mailbox, wake: Arc<Notify>) {
    let mut pause = Duration::from_secs(5);
    loop {
        match watch_once(&mailbox, &wake).await {
            Ok(never) => match never {},
            Err(Stop::Unsupported) => {
                tracing::info!(
                    "mail: {}:{} does not offer IMAP IDLE; queue {}'s mailbox is polled",
                    mailbox.imap.host,
                    mailbox.imap.port,
                    mailbox.queue_id
                );
                return;
            }
            Err(Stop::Failed(e)) => {
                tracing::warn!(
                    "mail: watching queue {}'s mailbox (IDLE) failed, again in {pause:?}: {e}",
                    mailbox.queue_id
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}

enum Stop {
    Unsupported,
    Failed(MailError),
}

impl From<MailError> for Stop {
    fn from(e: MailError) -> Self {
        Stop::Failed(e)
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> Stop {
    Stop::Failed(MailError::Server(format!("{what}: {e}")))
}

/// One connection: sign in, open the folder, then IDLE until the connection fails.
async fn watch_once(mailbox: &Mailbox, wake: &Notify) -> Result<std::convert::Infallible, Stop> {
    let mut session = super::fetch::connect(mailbox).await?;
    let capabilities = session.capabilities().await.map_err(|e| failed("CAPABILITY", e))?;
    if !capabilities.has_str("IDLE") {
        return Err(Stop::Unsupported);
    }
    session.select(&mailbox.folder).await.map_err(|e| failed("SELECT", e))?;
    // Mail that arrived while this watcher was not connected: read it now.
    wake.notify_one();
    loop {
        let mut idle = session.idle();
        idle.init().await.map_err(|e| failed("IDLE", e))?;
        let response = {
            let (waiting, _stop) = idle.wait_with_timeout(REISSUE);
            waiting.await.map_err(|e| failed("waiting in IDLE", e))?
        };
        session = idle.done().await.map_err(|e| failed("DONE", e))?;
        match response {
            IdleResponse::NewData(_) => wake.notify_one(),
            IdleResponse::Timeout | IdleResponse::ManualInterrupt => {}
        }
    }
}
