//! Each subcommand: open the profile, call liaison-core, print.

use crate::args::{Cli, Command, ConflictsCommand, ContactCommand, ContactFields, InitArgs, KeepSide, LoginArgs};
use crate::prompt::{self, PASSPHRASE_ENV, PASSWORD_ENV};
use anyhow::{Context, Result, anyhow, bail};
use liaison_core::conflicts as liaison_conflicts;
use liaison_core::contacts::{self, Contact, ContactInput, ContactPatch, ContactSummary, Page};
use liaison_core::sync::{self, SyncStatus};
use liaison_core::vault::UnlockMode;
use liaison_core::{Error, ErrorCode, Profile, paths};
use serde::Serialize;
use std::io::IsTerminal;
use uuid::Uuid;

/// `println!` that reports a closed stdout (e.g. `| head`) as an error instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub async fn run(cli: Cli) -> Result<()> {
    let dir = cli.data_dir.clone().unwrap_or_else(paths::default_data_dir);
    let mut profile = Profile::new(dir);
    let json = cli.json;
    match dispatch(&mut profile, cli.command, json).await {
        // The server says an administrator revoked this device: it forgets everything.
        Err(e) if e.downcast_ref::<Error>().is_some_and(liaison_core::wipe::is_revoked) => {
            let wiped = liaison_core::wipe::forget_revoked(&mut profile).await?;
            Err(anyhow::anyhow!(wiped.explain()))
        }
        other => other,
    }
}

async fn dispatch(profile: &mut Profile, command: Command, json: bool) -> Result<()> {
    match command {
        Command::Init(args) => init(profile, args, json),
        Command::Contact(cmd) => {
            unlock(profile)?;
            contact(profile, cmd, json).await
        }
        Command::Login(args) => {
            unlock(profile)?;
            login(profile, args, json).await
        }
        Command::Logout => {
            unlock(profile)?;
            let status = sync::logout(profile.store()?)?;
            print_status(profile, &status, json)
        }
        Command::Sync { status: true, limit } => {
            unlock(profile)?;
            ledger(profile.store()?, limit, json)
        }
        Command::Sync { status: false, .. } => {
            unlock(profile)?;
            let report = sync::sync(profile.store()?).await?;
            if json {
                return emit(&report);
            }
            say!(
                "Sent {} change(s), {} refused; received {} change(s).",
                report.pushed,
                report.rejected,
                report.pulled
            );
            if report.rejected > 0 {
                say!("Refused changes stay in the sync ledger with the server's reason.");
            }
            Ok(())
        }
        Command::Conflicts(cmd) => {
            unlock(profile)?;
            conflicts(profile.store()?, cmd, json)
        }
        Command::Queue(cmd) => {
            unlock(profile)?;
            crate::desk::queue(profile.store()?, cmd, json)
        }
        Command::Case(cmd) => {
            unlock(profile)?;
            crate::desk::case(profile.store()?, cmd, json).await
        }
        Command::Canned(cmd) => {
            unlock(profile)?;
            crate::desk::canned(profile.store()?, cmd, json)
        }
        Command::Status => {
            let state = profile.state()?;
            if !state.exists {
                bail!(Error::new(
                    ErrorCode::NoVault,
                    format!(
                        "There is no Liaison vault in {}; create one with `liaison init`.",
                        state.data_dir.display()
                    )
                ));
            }
            unlock(profile)?;
            let status = sync::status(profile.store()?)?;
            print_status(profile, &status, json)
        }
        Command::Demo { count, seed } => {
            unlock(profile)?;
            demo(profile, count, seed)
        }
    }
}

pub(crate) fn emit<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    say!("{text}");
    Ok(())
}

fn ledger(store: &liaison_core::store::Store, limit: usize, json: bool) -> Result<()> {
    let entries = sync::ledger(store, limit)?;
    if json {
        return emit(&entries);
    }
    if entries.is_empty() {
        say!("No outgoing changes yet.");
    }
    for e in &entries {
        let what = if e.deleted { "delete".to_string() } else { e.fields.join(", ") };
        let state = serde_json::to_value(e.state)?.as_str().unwrap_or("?").to_string();
        say!("{:<9} {} {} {} ({what})", state, e.created_at, e.entity.as_str(), e.row_id);
        if let Some(err) = &e.error {
            say!("          refused: {} ({})", err.message, err.code);
        }
    }
    Ok(())
}

fn init(profile: &mut Profile, args: InitArgs, json: bool) -> Result<()> {
    let mode = if args.keychain {
        UnlockMode::Keychain
    } else if args.passphrase || std::env::var_os(PASSPHRASE_ENV).is_some() {
        UnlockMode::Passphrase
    } else {
        match profile.keychain_check() {
            Ok(()) => UnlockMode::Keychain,
            Err(why) => {
                eprintln!("No usable system keychain here ({why}); protecting the database with a passphrase instead.");
                UnlockMode::Passphrase
            }
        }
    };
    match mode {
        UnlockMode::Passphrase => {
            let pass = prompt::new_secret(PASSPHRASE_ENV, "passphrase")?;
            profile.create(mode, Some(&pass))?;
        }
        UnlockMode::Keychain => profile.create(mode, None)?,
    }
    let state = profile.state()?;
    if json {
        return emit(&state);
    }
    let how = if mode == UnlockMode::Keychain { "the system keychain" } else { "your passphrase" };
    say!("Created an encrypted Liaison database in {} (unlocked with {how}).", state.data_dir.display());
    Ok(())
}

/// Unlock: `$LIAISON_PASSPHRASE`, else the keychain for keychain vaults, else a prompt.
fn unlock(profile: &mut Profile) -> Result<()> {
    let state = profile.state()?;
    if !state.exists {
        bail!(Error::new(
            ErrorCode::NoVault,
            format!("There is no Liaison vault in {}; create one with `liaison init`.", state.data_dir.display())
        ));
    }
    if let Ok(pass) = std::env::var(PASSPHRASE_ENV)
        && state.mode == Some(UnlockMode::Passphrase)
    {
        return Ok(profile.unlock(Some(&pass))?);
    }
    if state.mode == Some(UnlockMode::Keychain) {
        return Ok(profile.unlock(None)?);
    }
    let pass = prompt::secret(PASSPHRASE_ENV, "Passphrase: ")?.ok_or_else(|| {
        anyhow!(Error::new(
            ErrorCode::WrongPassphrase,
            format!("This vault needs its passphrase: set {PASSPHRASE_ENV} or run on a terminal.")
        ))
    })?;
    Ok(profile.unlock(Some(&pass))?)
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| {
        anyhow!(Error::invalid(format!(
            "{id:?} is not a contact id (a UUID such as 0193…); find ids with `liaison contact list`."
        )))
    })
}

fn blank_to_none(v: String) -> Option<String> {
    Some(v).filter(|s| !s.trim().is_empty())
}

fn input_from(f: ContactFields) -> Result<ContactInput> {
    let name = f.name.ok_or_else(|| anyhow!(Error::invalid("A contact needs a name: pass --name.")))?;
    Ok(ContactInput {
        display_name: name,
        emails: f.emails,
        phones: f.phones,
        wiki_user: f.wiki_user.and_then(blank_to_none),
        irc_nick: f.irc.and_then(blank_to_none),
        language: f.lang.and_then(blank_to_none),
        organization: f.org.and_then(blank_to_none),
        tags: f.tags,
        notes: f.note.and_then(blank_to_none),
        restricted: f.restricted.unwrap_or(false),
    })
}

/// Only the flags that were given become part of the patch. A repeated flag given once with an
/// empty value (`--email ""`) clears the list.
fn patch_from(f: ContactFields) -> ContactPatch {
    let list = |v: Vec<String>| {
        if v.is_empty() { None } else { Some(v.into_iter().filter(|s| !s.trim().is_empty()).collect()) }
    };
    ContactPatch {
        display_name: f.name,
        emails: list(f.emails),
        phones: list(f.phones),
        wiki_user: f.wiki_user.map(blank_to_none),
        irc_nick: f.irc.map(blank_to_none),
        language: f.lang.map(blank_to_none),
        organization: f.org.map(blank_to_none),
        tags: list(f.tags),
        notes: f.note.map(blank_to_none),
        restricted: f.restricted,
    }
}

async fn contact(profile: &mut Profile, cmd: ContactCommand, json: bool) -> Result<()> {
    if let ContactCommand::Erase { id, yes } = cmd {
        return erase(profile, &id, yes, json).await;
    }
    let store = profile.store()?;
    match cmd {
        ContactCommand::Add(fields) => {
            let c = contacts::create(store, input_from(fields)?)?;
            if json {
                emit(&c)
            } else {
                {
                    say!("{}", c.id);
                    Ok(())
                }
            }
        }
        ContactCommand::List { offset, limit } => print_page(&contacts::list(store, offset, limit)?, json),
        ContactCommand::Search { query, offset, limit } => {
            let page = contacts::search(store, &query, offset, limit)?;
            if json { emit(&page.items) } else { print_page(&page, false) }
        }
        ContactCommand::Show { id } => {
            let c = contacts::get(store, parse_id(&id)?)?;
            if json { emit(&c) } else { print_contact(&c) }
        }
        ContactCommand::Edit { id, fields } => {
            let patch = patch_from(fields);
            if patch == ContactPatch::default() {
                bail!(Error::invalid(
                    "Nothing to change: pass at least one of --name, --email, --phone, --wiki-user, --irc, --lang, --org, --tag, --note, --restricted."
                ));
            }
            let c = contacts::update(store, parse_id(&id)?, patch)?;
            if json {
                emit(&c)
            } else {
                {
                    say!("Updated {}.", c.id);
                    Ok(())
                }
            }
        }
        ContactCommand::Erase { .. } => Ok(()), // handled above: it needs the profile across a network call
        ContactCommand::Delete { id } => {
            let id = parse_id(&id)?;
            contacts::delete(store, id)?;
            if json {
                emit(&serde_json::json!({ "deleted": id }))
            } else {
                {
                    say!("Deleted {id}.");
                    Ok(())
                }
            }
        }
    }
}

async fn erase(profile: &mut Profile, id: &str, yes: bool, json: bool) -> Result<()> {
    let id = parse_id(id)?;
    let name = contacts::get(profile.store()?, id).map(|c| c.display_name).unwrap_or_else(|_| id.to_string());
    if !yes {
        if !prompt::interactive() {
            bail!(Error::invalid("Erasing cannot be undone: pass --yes to confirm when not on a terminal."));
        }
        if !prompt::confirm(&format!(
            "Erase all data about {name}, on the server and on every device? This cannot be undone."
        ))? {
            bail!("Nothing was erased.");
        }
    }
    let report = sync::erase_contact(profile.store()?, id).await?;
    if json {
        return emit(&serde_json::json!({ "erased": id, "sync": report }));
    }
    say!("Erased {name} ({id}) on the server; other devices delete it at their next sync.");
    Ok(())
}

fn parse_conflict_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| {
        anyhow!(Error::invalid(format!("{id:?} is not a conflict id; find ids with `liaison conflicts list`.")))
    })
}

fn conflicts(store: &mut liaison_core::store::Store, cmd: ConflictsCommand, json: bool) -> Result<()> {
    match cmd {
        ConflictsCommand::List { all } => {
            let list = liaison_conflicts::list(store, all)?;
            if json {
                return emit(&list);
            }
            if list.is_empty() {
                say!("No conflicts{}.", if all { "" } else { " wait for a decision" });
            }
            for c in &list {
                say!(
                    "{}  {}  {}",
                    c.id,
                    c.owner_label.as_deref().unwrap_or("(contact not on this device)"),
                    conflict_subject(c)
                );
            }
            Ok(())
        }
        ConflictsCommand::Show { id } => {
            let c = liaison_conflicts::get(store, parse_conflict_id(&id)?)?;
            if json { emit(&c) } else { print_conflict(&c) }
        }
        ConflictsCommand::Resolve { id, keep, value } => {
            let id = parse_conflict_id(&id)?;
            let choice = match (keep, value) {
                (Some(KeepSide::Mine), _) => liaison_conflicts::Choice::Mine,
                (Some(KeepSide::Theirs), _) => liaison_conflicts::Choice::Theirs,
                (None, Some(text)) => {
                    let c = liaison_conflicts::get(store, id)?;
                    let field = c.field.as_deref().ok_or_else(|| {
                        anyhow!(Error::invalid("This conflict is about a delete: use --keep mine or --keep theirs."))
                    })?;
                    liaison_conflicts::Choice::Value(liaison_conflicts::value_from_text(c.entity, field, &text)?)
                }
                (None, None) => {
                    bail!(Error::invalid("Say how to resolve it: --keep mine, --keep theirs or --value TEXT."))
                }
            };
            let done = liaison_conflicts::resolve(store, id, choice)?;
            if json {
                return emit(&done);
            }
            match done.restored_id {
                Some(new) => {
                    say!("Resolved: the change was kept as a new record {new}. It reaches the server at the next sync.")
                }
                None => say!("Resolved. The decision reaches the server and other devices at the next sync."),
            }
            Ok(())
        }
    }
}

fn conflict_subject(c: &liaison_conflicts::Conflict) -> String {
    let what = c.entity.as_str().replace('_', " ");
    match (&c.kind, &c.field) {
        (liaison_conflicts::ConflictKind::Delete, _) => format!("{what} deleted while changed"),
        (_, Some(field)) => format!("{what} {field}: two different values"),
        (_, None) => what,
    }
}

fn side_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(deleted)".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_conflict(c: &liaison_conflicts::Conflict) -> Result<()> {
    say!("{}: {}", c.owner_label.as_deref().unwrap_or("(contact not on this device)"), conflict_subject(c));
    say!("  id:        {}", c.id);
    say!("  detected:  {}", c.detected_at);
    let mine_label = if c.mine_is_own { "mine" } else { "current" };
    say!(
        "  {mine_label:<9}  {}   ({} on {}{})",
        side_text(&c.mine.value),
        c.mine.user,
        c.mine.device,
        if c.mine_was_kept { ", kept" } else { ", set aside" }
    );
    say!(
        "  theirs:    {}   ({} on {}{})",
        side_text(&c.theirs.value),
        c.theirs.user,
        c.theirs.device,
        if c.mine_was_kept { ", set aside" } else { ", kept" }
    );
    match (&c.resolved_by, &c.resolved_at) {
        (Some(by), Some(at)) => say!("  resolved:  {} by {by} at {at}", c.resolution.as_deref().unwrap_or("?")),
        _ => say!(
            "  Resolve with: liaison conflicts resolve {} --keep mine|theirs{}",
            c.id,
            if c.field.is_some() { " | --value TEXT" } else { "" }
        ),
    }
    Ok(())
}

fn print_page(page: &Page<ContactSummary>, json: bool) -> Result<()> {
    if json {
        return emit(page);
    }
    for c in &page.items {
        say!("{}  {}  {}", c.id, c.display_name, c.primary_email.as_deref().unwrap_or(""));
    }
    let end = page.offset + page.items.len() as u64;
    eprintln!("{}–{} of {} contact(s)", if page.items.is_empty() { 0 } else { page.offset + 1 }, end, page.total);
    Ok(())
}

fn print_contact(c: &Contact) -> Result<()> {
    say!("{}", c.display_name);
    say!("  id:           {}", c.id);
    for e in &c.emails {
        say!("  email:        {}", e.address);
    }
    for p in &c.phones {
        say!("  phone:        {}", p.number);
    }
    for i in &c.identifiers {
        let label = match i.kind.as_str() {
            "wiki" => "wiki user:",
            "irc" => "IRC nick:",
            _ => "identifier:",
        };
        say!("  {label:<13} {}", i.value);
    }
    for (label, value) in [("language:", &c.language), ("organisation:", &c.organization)] {
        if let Some(v) = value {
            say!("  {label:<13} {v}");
        }
    }
    if !c.tags.is_empty() {
        say!("  tags:         {}", c.tags.join(", "));
    }
    if let Some(notes) = &c.notes {
        say!("  notes:        {notes}");
    }
    if c.restricted {
        say!("  restricted:   yes (staff, administrators and people granted access)");
    }
    say!("  created:      {}", c.created_at);
    say!("  updated:      {}", c.updated_at);
    Ok(())
}

async fn login(profile: &mut Profile, args: LoginArgs, json: bool) -> Result<()> {
    let probe = sync::probe(&args.url).await?;
    match &args.fingerprint {
        Some(given) => {
            let given = sync::normalise_fingerprint(given)?;
            if given != probe.fingerprint {
                bail!(Error::new(
                    ErrorCode::CertificateMismatch,
                    format!(
                        "The server at {} presents a certificate with fingerprint {}, not the {given} you passed. Do not sign in; ask the server's administrator.",
                        probe.url, probe.fingerprint
                    )
                ));
            }
        }
        None if prompt::interactive() => {
            eprintln!(
                "The server at {} identifies itself with the certificate fingerprint (SHA-256):\n  {}",
                probe.url,
                group(&probe.fingerprint)
            );
            if !prompt::confirm("Is this exactly the fingerprint your administrator gave you?")? {
                bail!("Not signed in: the fingerprint was not confirmed.");
            }
        }
        None => bail!(Error::invalid(format!(
            "Refusing to trust {} without checking its certificate: pass --fingerprint {} after comparing it with the one your administrator gave you.",
            probe.url, probe.fingerprint
        ))),
    }
    let password = prompt::secret(PASSWORD_ENV, &format!("Password for {}: ", args.user))?
        .ok_or_else(|| anyhow!(Error::invalid(format!("No password: set {PASSWORD_ENV} or run on a terminal."))))?;
    let status = sync::login(profile.store()?, &probe.url, &args.user, &password, &probe.fingerprint).await?;
    if json {
        return emit(&status);
    }
    say!("Signed in to {} as {} ({}).", probe.url, args.user, status.role.as_deref().unwrap_or("?"));
    Ok(())
}

fn group(fingerprint: &str) -> String {
    fingerprint.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect::<Vec<_>>().join(":")
}

fn print_status(profile: &Profile, status: &SyncStatus, json: bool) -> Result<()> {
    let count = match profile.is_unlocked() {
        true => Some(contacts_count(profile)?),
        false => None,
    };
    if json {
        return emit(&serde_json::json!({ "data_dir": profile.dir(), "contacts": count, "sync": status }));
    }
    say!("Data directory: {}", profile.dir().display());
    if let Some(n) = count {
        say!("Contacts:       {n}");
    }
    match (&status.server_url, status.logged_in) {
        (Some(url), true) => say!(
            "Server:         {url} as {} ({})",
            status.user.as_deref().unwrap_or("?"),
            status.role.as_deref().unwrap_or("?")
        ),
        (Some(url), false) => say!("Server:         {url} (signed out)"),
        (None, _) => say!("Server:         not signed in"),
    }
    say!("Unsent changes: {}", status.pending);
    if status.conflicts > 0 {
        say!("Conflicts:      {} (see `liaison conflicts list`)", status.conflicts);
    }
    if status.rejected > 0 {
        say!("Refused:        {}", status.rejected);
    }
    say!("Last sync:      {}", status.last_sync_at.as_deref().unwrap_or("never"));
    if let Some(e) = &status.last_error {
        say!("Last error:     {} ({})", e.message, e.code);
    }
    Ok(())
}

fn contacts_count(profile: &Profile) -> Result<u64> {
    // `Profile::store` needs `&mut`; counting only needs a read, so go through a fresh borrow.
    let store = profile_store(profile)?;
    Ok(contacts::count(store)?)
}

fn profile_store(profile: &Profile) -> Result<&liaison_core::store::Store> {
    profile.store_ref().context("the vault is locked")
}

fn demo(profile: &mut Profile, count: u64, seed: u64) -> Result<()> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(count);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} contacts ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    liaison_core::demo::fill(profile.store()?, count, seed, |done| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    say!("Added {count} generated contacts.");
    Ok(())
}
