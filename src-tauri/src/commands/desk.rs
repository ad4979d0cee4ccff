//! The desk: the queue sidebar, case lists, a case and its thread, replies and notes, state and
//! owner, canned replies and the composer's drafts.

use super::{Result, blocking, parse_id};
use crate::dto::desk::{
    CannedSummary, CaseActivity, CaseDetail, CaseEdit, CasePage, CasePresence, CaseQuery, CaseRow, ComposerMode, Draft,
    LoggedMessage, NewCase, QueueCounts, RenderedCanned,
};
use crate::state::AppState;
use liaison_core::cases::{self, CaseFilter, CaseInput, CasePatch, MessageInput};
use liaison_core::store::Store;
use liaison_core::{canned, drafts, queues};
use liaison_protocol::schema::EntityKind;
use tauri::{AppHandle, State};
use uuid::Uuid;

/// What a case's edit writes: the case and the rows of its tree.
const CASE_KINDS: &[EntityKind] =
    &[EntityKind::Case, EntityKind::CaseMessage, EntityKind::CaseContact, EntityKind::Attachment, EntityKind::CaseLink];

fn optional_id(id: Option<&str>) -> Result<Option<Uuid>> {
    id.map(str::trim).filter(|s| !s.is_empty()).map(parse_id).transpose()
}

fn detail(store: &Store, id: Uuid) -> liaison_core::Result<CaseDetail> {
    let case = cases::get(store, id)?;
    let states = match queues::get(store, case.queue_id) {
        Ok(queue) => queue.all_states(),
        Err(_) => liaison_protocol::schema::CASE_STATES.iter().map(|s| (*s).to_owned()).collect(),
    };
    Ok(CaseDetail::new(case, states))
}

/// Change a case on this device with `change`, which returns the case to show (the one changed,
/// or a merge's survivor); then tell the UI and the sync what changed.
async fn change_case(
    app: &AppHandle,
    state: &State<'_, AppState>,
    change: impl FnOnce(&mut Store) -> liaison_core::Result<Uuid>,
) -> Result<CaseDetail> {
    let mut profile = state.profile.lock().await;
    let updated = blocking(|| {
        let store = profile.store()?;
        let show = change(store)?;
        detail(store, show)
    })?;
    state.after_local_change(app, CASE_KINDS);
    Ok(updated)
}

/// Every queue on this device with what waits in it.
#[tauri::command]
pub async fn desk_queues(state: State<'_, AppState>) -> Result<Vec<QueueCounts>> {
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| queues::sidebar(profile.store()?))?.into_iter().map(Into::into).collect())
}

#[tauri::command]
pub async fn list_cases(state: State<'_, AppState>, query: CaseQuery, offset: u32, limit: u32) -> Result<CasePage> {
    let filter = CaseFilter {
        queue: optional_id(query.queue_id.as_deref())?,
        state: query.state.filter(|s| !s.trim().is_empty()),
        owner: None,
        query: query.search.filter(|s| !s.trim().is_empty()),
        open_only: false,
        view: query.view.into(),
        sort: query.sort.into(),
    };
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| cases::list(profile.store()?, &filter, u64::from(offset), limit))?.into())
}

#[tauri::command]
pub async fn get_case(state: State<'_, AppState>, id: String) -> Result<CaseDetail> {
    let id = parse_id(&id)?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| detail(profile.store()?, id))?)
}

/// The cases a contact appears in (the case view's contact panel, the contact's page).
#[tauri::command]
pub async fn contact_cases(state: State<'_, AppState>, contact_id: String) -> Result<Vec<CaseRow>> {
    let id = parse_id(&contact_id)?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| cases::of_contact(profile.store()?, id))?.into_iter().map(Into::into).collect())
}

/// Record a case by hand (a phone call, a talk page thread, a conversation at a meetup).
#[tauri::command]
pub async fn create_case(app: AppHandle, state: State<'_, AppState>, input: NewCase) -> Result<CaseDetail> {
    let queue = parse_id(&input.queue_id)?;
    let reader = optional_id(input.reader_id.as_deref())?;
    let mut profile = state.profile.lock().await;
    let created = blocking(|| {
        let store = profile.store()?;
        let case = cases::create(
            store,
            CaseInput {
                queue,
                subject: input.subject,
                kind: input.kind,
                channel: input.channel,
                language: input.language,
                reader,
                text: input.text,
                ..Default::default()
            },
        )?;
        detail(store, case.id)
    })?;
    state.after_local_change(&app, CASE_KINDS);
    Ok(created)
}

#[tauri::command]
pub async fn update_case(app: AppHandle, state: State<'_, AppState>, id: String, edit: CaseEdit) -> Result<CaseDetail> {
    let id = parse_id(&id)?;
    let queue = optional_id(edit.queue_id.as_deref())?;
    let clearable = |v: Option<String>| v.map(|s| Some(s).filter(|s| !s.trim().is_empty()));
    let patch = CasePatch {
        subject: edit.subject,
        priority: clearable(edit.priority),
        language: clearable(edit.language),
        tags: edit.tags,
        queue,
        ..Default::default()
    };
    change_case(&app, &state, |store| {
        cases::update(store, id, patch)?;
        Ok(id)
    })
    .await
}

/// Move a case to a state of its queue (recorded in the thread).
#[tauri::command]
pub async fn set_case_state(app: AppHandle, state: State<'_, AppState>, id: String, to: String) -> Result<CaseDetail> {
    let id = parse_id(&id)?;
    change_case(&app, &state, |store| {
        cases::set_state(store, id, &to)?;
        Ok(id)
    })
    .await
}

/// Give a case to a team member, or to nobody (`owner: null`).
#[tauri::command]
pub async fn assign_case(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    owner: Option<String>,
) -> Result<CaseDetail> {
    let id = parse_id(&id)?;
    change_case(&app, &state, |store| {
        cases::assign(store, id, owner.as_deref())?;
        Ok(id)
    })
    .await
}

/// Send what the composer holds: a reply to the reader (mailed by the server after sync) or an
/// internal note. The case's draft is discarded in the same step.
#[tauri::command]
pub async fn send_message(
    app: AppHandle,
    state: State<'_, AppState>,
    case_id: String,
    mode: ComposerMode,
    body: String,
) -> Result<CaseDetail> {
    let id = parse_id(&case_id)?;
    change_case(&app, &state, |store| {
        if body.trim().is_empty() {
            return Err(liaison_core::Error::invalid(
                "The message is empty: write what the reader or the team should read.",
            ));
        }
        let input = MessageInput { kind: mode.as_str().to_owned(), body: Some(body), ..Default::default() };
        cases::add_message(store, id, input, Vec::new())?;
        drafts::discard(store, id)?;
        Ok(id)
    })
    .await
}

/// Record an interaction that happened on another channel (a talk-page comment, a call, a
/// conversation at a meetup): what the reader said, or the answer given there (never mailed).
#[tauri::command]
pub async fn log_message(
    app: AppHandle,
    state: State<'_, AppState>,
    case_id: String,
    input: LoggedMessage,
) -> Result<CaseDetail> {
    let id = parse_id(&case_id)?;
    if !matches!(input.kind.as_str(), "inbound" | "reply") {
        let what = "record what the reader said (inbound) or the answer given (reply)";
        return Err(
            liaison_core::Error::invalid(format!("{:?} is not something to record; {what}.", input.kind)).into()
        );
    }
    if input.channel == "email" {
        let why = "it arrives through the queue's mailbox, and replies are sent from the composer";
        return Err(liaison_core::Error::invalid(format!("Mail is not recorded by hand: {why}.")).into());
    }
    let message = MessageInput {
        kind: input.kind,
        channel: Some(input.channel),
        body: Some(input.body),
        link: input.link.filter(|l| !l.trim().is_empty()),
        sent_at: input.sent_at.filter(|s| !s.trim().is_empty()),
        ..Default::default()
    };
    change_case(&app, &state, |store| {
        cases::add_message(store, id, message, Vec::new())?;
        Ok(id)
    })
    .await
}

/// Merge case `id` into case `into` (the reader wrote twice about one thing): `id` is closed,
/// its thread and contacts show in `into`, and mail to it joins `into`. Returns `into`.
#[tauri::command]
pub async fn merge_case(app: AppHandle, state: State<'_, AppState>, id: String, into: String) -> Result<CaseDetail> {
    let (from, into) = (parse_id(&id)?, parse_id(&into)?);
    change_case(&app, &state, |store| {
        cases::merge(store, from, into)?;
        drafts::discard(store, from)?;
        Ok(into)
    })
    .await
}

/// Link two related cases, or take the link away (`remove`). Returns case `id`.
#[tauri::command]
pub async fn relate_cases(
    app: AppHandle,
    state: State<'_, AppState>,
    id: String,
    other: String,
    remove: bool,
) -> Result<CaseDetail> {
    let (case, other) = (parse_id(&id)?, parse_id(&other)?);
    change_case(&app, &state, |store| {
        cases::relate(store, case, other, remove)?;
        Ok(case)
    })
    .await
}

/// The formatted (HTML) version of a reader's mail, sanitized (no scripts, styles, forms or
/// remote images), for an explicit "show formatted"; `null` when the mail had none.
#[tauri::command]
pub async fn message_formatted(state: State<'_, AppState>, message_id: String) -> Result<Option<String>> {
    let id = parse_id(&message_id)?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| cases::formatted(profile.store()?, id))?)
}

/// Open a web address from a thread (a talk-page diff, a mailing-list post) in the system's
/// browser, never inside the app. Only `http` and `https` addresses are opened.
#[tauri::command]
pub async fn open_link(app: AppHandle, url: String) -> Result<()> {
    let url = url.trim();
    let web = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2_000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !web {
        return Err(liaison_core::Error::invalid("Only web addresses (http or https) are opened from the app.").into());
    }
    use tauri_plugin_opener::OpenerExt;
    app.opener().open_url(url, None::<&str>).map_err(|e| {
        liaison_core::Error::new(
            liaison_core::ErrorCode::Internal,
            format!("The browser could not be opened ({e}); copy the address instead: {url}"),
        )
        .into()
    })
}

/// The canned replies for a queue's cases (its own and those for every queue).
#[tauri::command]
pub async fn list_canned(state: State<'_, AppState>, queue_id: Option<String>) -> Result<Vec<CannedSummary>> {
    let queue = optional_id(queue_id.as_deref())?;
    let mut profile = state.profile.lock().await;
    let all = blocking(|| canned::list(profile.store()?, queue, false))?;
    Ok(all.into_iter().map(Into::into).collect())
}

/// A canned reply filled in for a case, in the case's language when it has that version.
#[tauri::command]
pub async fn render_canned(state: State<'_, AppState>, canned_id: String, case_id: String) -> Result<RenderedCanned> {
    let canned_id = parse_id(&canned_id)?;
    let case_id = parse_id(&case_id)?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| {
        let store = profile.store()?;
        let agent = liaison_core::session::signed_in_user(store.conn())?;
        canned::render_for_case(store, canned_id, case_id, agent.as_deref())
    })?
    .into())
}

#[tauri::command]
pub async fn get_draft(state: State<'_, AppState>, case_id: String) -> Result<Option<Draft>> {
    let id = parse_id(&case_id)?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| drafts::get(profile.store()?, id))?.map(Into::into))
}

/// Keep what the composer holds (an empty composer discards the draft; resolves with `null`).
#[tauri::command]
pub async fn save_draft(
    state: State<'_, AppState>,
    case_id: String,
    mode: ComposerMode,
    body: String,
    canned_id: Option<String>,
) -> Result<Option<Draft>> {
    let id = parse_id(&case_id)?;
    let canned = optional_id(canned_id.as_deref())?;
    let mut profile = state.profile.lock().await;
    Ok(blocking(|| drafts::save(profile.store()?, id, mode.as_str(), &body, canned))?.map(Into::into))
}

#[tauri::command]
pub async fn discard_draft(state: State<'_, AppState>, case_id: String) -> Result<()> {
    let id = parse_id(&case_id)?;
    let mut profile = state.profile.lock().await;
    blocking(|| drafts::discard(profile.store()?, id))?;
    Ok(())
}

/// Report what this device is doing with a case and learn who else is at it (and, with
/// `draftStartedAt`, the replies others sent since). Offline or signed out it answers
/// `online: false` rather than failing: presence is only ever a hint.
#[tauri::command]
pub async fn case_presence(
    state: State<'_, AppState>,
    case_id: String,
    activity: CaseActivity,
    draft_started_at: Option<String>,
) -> Result<CasePresence> {
    let id = parse_id(&case_id)?;
    let link = {
        let mut profile = state.profile.lock().await;
        blocking(|| liaison_core::sync::server_link(profile.store()?))
    };
    let offline = CasePresence { online: false, others: Vec::new(), replied_since: Vec::new() };
    let link = match link {
        Ok(link) => link,
        Err(e) if e.code == liaison_core::ErrorCode::NotLoggedIn => return Ok(offline),
        Err(e) => return Err(e.into()),
    };
    match link.presence(id, activity.into(), draft_started_at.as_deref()).await {
        Ok(seen) => Ok(seen.into()),
        Err(e)
            if matches!(e.code, liaison_core::ErrorCode::ServerUnreachable | liaison_core::ErrorCode::Unavailable) =>
        {
            Ok(offline)
        }
        Err(e) => Err(e.into()),
    }
}
