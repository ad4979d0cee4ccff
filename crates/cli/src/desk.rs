//! `liaison queue …` and `liaison case …`: the desk from a script.

use crate::args::{CannedCommand, CaseCommand, CaseFields, MemberCommand, NewCase, QueueCommand, QueueFields};
use crate::commands::emit;
use anyhow::{Context, Result, anyhow};
use liaison_core::Error;
use liaison_core::canned::{self, CannedPatch, CannedReply};
use liaison_core::cases::{self, Case, CaseFilter, CaseInput, CasePatch, MessageInput, NewFile, WikiPage};
use liaison_core::queues::{self, Queue, QueuePatch};
use liaison_core::store::Store;
use serde_json::Value;
use std::path::Path;
use uuid::Uuid;

/// `println!` that reports a closed stdout (e.g. `| head`) as an error instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

fn id_arg(what: &str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        let shown: String = text.chars().take(64).collect();
        anyhow!(Error::invalid(format!("{shown:?} is not a {what} id (a UUID, as `liaison {what} list` shows)")))
    })
}

fn blank_is_none(v: Option<String>) -> Option<Option<String>> {
    v.map(|s| if s.trim().is_empty() { None } else { Some(s) })
}

fn sla_targets(text: &str) -> Result<Value> {
    let mut targets = serde_json::Map::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, minutes) = part.split_once('=').ok_or_else(|| {
            anyhow!(Error::invalid(format!("{part:?} is not an SLA target; write e.g. first_response=480")))
        })?;
        let minutes: u64 = minutes.trim().parse().map_err(|_| {
            anyhow!(Error::invalid(format!("{:?} is not a number of minutes (in {part:?})", minutes.trim())))
        })?;
        targets.insert(name.trim().to_owned(), Value::from(minutes));
    }
    let value = Value::Object(targets);
    liaison_protocol::schema::EntityKind::Queue
        .def()
        .validate("sla", &value)
        .map_err(|why| anyhow!(Error::invalid(why)))?;
    Ok(value)
}

fn queue_patch(f: QueueFields, archived: Option<bool>) -> Result<QueuePatch> {
    let calendar = match f.calendar {
        None => None,
        Some(text) if text.trim().is_empty() => Some(None),
        Some(text) => Some(Some(serde_json::from_str(&text).map_err(|e| {
            anyhow!(Error::invalid(format!("--calendar is not JSON ({e}); see `liaison queue add --help`")))
        })?)),
    };
    let sla = match f.sla {
        None => None,
        Some(text) if text.trim().is_empty() => Some(None),
        Some(text) => Some(Some(sla_targets(&text)?)),
    };
    Ok(QueuePatch {
        name: f.name,
        email: blank_is_none(f.email),
        language: blank_is_none(f.lang),
        description: blank_is_none(f.description),
        signature: blank_is_none(f.signature),
        calendar,
        sla,
        states: f.states,
        archived,
    })
}

pub fn queue(store: &mut Store, cmd: QueueCommand, json: bool) -> Result<()> {
    match cmd {
        QueueCommand::List => {
            let list = queues::list(store)?;
            if json {
                return emit(&list);
            }
            if list.is_empty() {
                say!(
                    "No queues on this device yet (staff see every queue; others the queues they are members of, after a sync)."
                );
            }
            for q in &list {
                let archived = if q.archived { " (archived)" } else { "" };
                say!("{}  {}{archived}  {}  {} open", q.id, q.name, q.language.as_deref().unwrap_or("-"), q.open_cases);
            }
            Ok(())
        }
        QueueCommand::Show { queue } => {
            let q = queues::get(store, queues::find(store, &queue)?)?;
            show_queue(&q, json)
        }
        QueueCommand::Add(fields) => {
            let q = queues::create(store, queue_patch(fields, None)?)?;
            if json {
                return emit(&q);
            }
            say!("{}", q.id);
            Ok(())
        }
        QueueCommand::Edit { queue, fields, archived } => {
            let id = queues::find(store, &queue)?;
            let q = queues::update(store, id, queue_patch(fields, archived)?)?;
            show_queue(&q, json)
        }
        QueueCommand::Member(MemberCommand::Add { queue, user, role }) => {
            let id = queues::find(store, &queue)?;
            show_queue(&queues::add_member(store, id, &user, &role)?, json)
        }
        QueueCommand::Member(MemberCommand::Remove { queue, user }) => {
            let id = queues::find(store, &queue)?;
            show_queue(&queues::remove_member(store, id, &user)?, json)
        }
    }
}

fn show_queue(q: &Queue, json: bool) -> Result<()> {
    if json {
        return emit(q);
    }
    say!("{}{}", q.name, if q.archived { " (archived)" } else { "" });
    say!("  id:        {}", q.id);
    for (label, value) in [("email", &q.email), ("language", &q.language), ("about", &q.description)] {
        if let Some(v) = value {
            say!("  {label:<10} {v}");
        }
    }
    say!("  states:    {}", q.all_states().join(", "));
    if let Some(sla) = &q.sla {
        say!("  SLA:       {sla}");
    }
    if let Some(calendar) = &q.calendar {
        say!("  hours:     {calendar}");
    }
    let members: Vec<String> = q
        .members
        .iter()
        .map(|m| if m.role == "agent" { m.user.clone() } else { format!("{} ({})", m.user, m.role) })
        .collect();
    say!("  members:   {}", if members.is_empty() { "none".to_owned() } else { members.join(", ") });
    say!("  open:      {} case(s)", q.open_cases);
    Ok(())
}

fn pages(args: &[String]) -> Result<Vec<WikiPage>> {
    args.iter()
        .map(|p| {
            let (wiki, title) =
                p.split_once(':').filter(|(w, t)| !w.trim().is_empty() && !t.trim().is_empty()).ok_or_else(|| {
                    anyhow!(Error::invalid(format!(
                        "{p:?} is not a page; write WIKI:TITLE, e.g. en.wikipedia.org:Ada Lovelace"
                    )))
                })?;
            Ok(WikiPage { wiki: wiki.trim().to_owned(), title: title.trim().to_owned() })
        })
        .collect()
}

fn read_files(paths: &[std::path::PathBuf]) -> Result<Vec<NewFile>> {
    paths
        .iter()
        .map(|path| {
            let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
            if meta.len() > liaison_protocol::schema::MAX_ATTACHMENT_BYTES as u64 {
                return Err(anyhow!(Error::invalid(format!(
                    "{} is {:.1} MB; attachments may be at most {} MB",
                    path.display(),
                    meta.len() as f64 / 1_048_576.0,
                    liaison_protocol::schema::MAX_ATTACHMENT_BYTES / 1_048_576
                ))));
            }
            let content = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(NewFile { name: file_name(path), media_type: media_type(path), content })
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "attachment".into())
}

/// A media type from the file's extension, for the common kinds readers send.
fn media_type(path: &Path) -> Option<String> {
    let ext = path.extension()?.to_string_lossy().to_lowercase();
    let media = match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "eml" => "message/rfc822",
        "odt" => "application/vnd.oasis.opendocument.text",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "zip" => "application/zip",
        _ => return None,
    };
    Some(media.to_owned())
}

fn patch_of(subject: Option<String>, f: CaseFields, queue: Option<Uuid>) -> Result<CasePatch> {
    Ok(CasePatch {
        subject,
        kind: f.kind,
        channel: f.channel,
        language: blank_is_none(f.lang),
        category: blank_is_none(f.category),
        priority: blank_is_none(f.priority),
        tags: (!f.tags.is_empty()).then_some(f.tags.clone()),
        wiki_pages: if f.pages.is_empty() { None } else { Some(pages(&f.pages)?) },
        queue,
    })
}

pub async fn case(store: &mut Store, cmd: CaseCommand, json: bool) -> Result<()> {
    match cmd {
        CaseCommand::New(NewCase { queue, subject, fields, reader, text }) => {
            let queue = queues::find(store, &queue)?;
            let input = CaseInput {
                queue,
                subject,
                kind: fields.kind,
                channel: fields.channel,
                language: fields.lang,
                category: fields.category,
                priority: fields.priority,
                tags: fields.tags,
                wiki_pages: pages(&fields.pages)?,
                reader: reader.as_deref().map(|r| id_arg("contact", r)).transpose()?,
                text,
            };
            let case = cases::create(store, input)?;
            if json {
                return emit(&case);
            }
            say!("{}", case.id);
            Ok(())
        }
        CaseCommand::List { queue, state, owner, open, search, view, sort, offset, limit } => {
            let queue = queue.as_deref().map(|q| queues::find(store, q)).transpose()?;
            let view = view.as_deref().map(cases::View::parse).transpose()?.unwrap_or_default();
            let sort = sort.as_deref().map(parse_sort).transpose()?.unwrap_or_default();
            let filter = CaseFilter { queue, state, owner, query: search, open_only: open, view, sort };
            let page = cases::list(store, &filter, offset, limit)?;
            if json {
                return emit(&page);
            }
            if page.items.is_empty() {
                say!("No cases match.");
            }
            for c in &page.items {
                let owner = c.owner.as_deref().map(|o| format!("  @{o}")).unwrap_or_default();
                let number = c.number.map(|n| format!("#{n} ")).unwrap_or_default();
                let due = c.due_at.as_deref().map(|d| format!("  due {}", local_time(d))).unwrap_or_default();
                say!(
                    "{}  {number}[{}] {}  ({}){owner}  {}{due}",
                    c.id,
                    c.state,
                    c.subject,
                    c.queue_name.as_deref().unwrap_or("?"),
                    c.reader.as_deref().unwrap_or("")
                );
            }
            if page.total > page.items.len() as u64 {
                say!("({} of {}; use --offset to see more)", page.items.len(), page.total);
            }
            Ok(())
        }
        CaseCommand::Show { id } => show_case(&cases::get(store, cases::find(store, &id)?)?, json),
        CaseCommand::Edit { id, subject, fields, queue } => {
            let queue = queue.as_deref().map(|q| queues::find(store, q)).transpose()?;
            let case = cases::update(store, cases::find(store, &id)?, patch_of(subject, fields, queue)?)?;
            show_case(&case, json)
        }
        CaseCommand::State { id, state } => {
            show_case(&cases::set_state(store, cases::find(store, &id)?, &state)?, json)
        }
        CaseCommand::Assign { id, user, none } => {
            let owner = if none { None } else { user.as_deref() };
            show_case(&cases::assign(store, cases::find(store, &id)?, owner)?, json)
        }
        CaseCommand::Link { id, contact, role, remove } => {
            let (case, contact) = (cases::find(store, &id)?, id_arg("contact", &contact)?);
            let case =
                if remove { cases::unlink(store, case, contact)? } else { cases::link(store, case, contact, &role)? };
            show_case(&case, json)
        }
        CaseCommand::Reply { id, text, canned: named, files } => {
            let case = cases::find(store, &id)?;
            let mut parts: Vec<String> = text.into_iter().filter(|t| !t.trim().is_empty()).collect();
            let mut language = None;
            if let Some(named) = named {
                let reply = canned::find(store, &named)?;
                let user = liaison_core::session::signed_in_user(store.conn())?;
                let rendered = canned::render_for_case(store, reply, case, user.as_deref())?;
                language = Some(rendered.language);
                parts.push(rendered.text);
            }
            if parts.is_empty() {
                return Err(anyhow!(Error::invalid(
                    "a reply needs --text or --canned NAME (`liaison canned list` shows the canned replies)"
                )));
            }
            let input = MessageInput { kind: "reply".into(), body: Some(parts.join("\n\n")), ..Default::default() };
            let message = cases::add_message(store, case, input, read_files(&files)?)?;
            if json {
                return emit(&message);
            }
            match (&language, message.channel.as_str()) {
                (Some(language), "email") => {
                    say!("{} (canned reply in {language}; mailed to the reader after the next sync)", message.id)
                }
                (None, "email") => say!("{} (mailed to the reader after the next sync)", message.id),
                (_, channel) => say!("{} (recorded as given on {channel}; not mailed)", message.id),
            }
            Ok(())
        }
        CaseCommand::Note { id, text, files } => {
            let input = MessageInput { kind: "note".into(), body: Some(text), ..Default::default() };
            let message = cases::add_message(store, cases::find(store, &id)?, input, read_files(&files)?)?;
            if json {
                return emit(&message);
            }
            say!("{}", message.id);
            Ok(())
        }
        CaseCommand::Log { id, channel, text, reply, from, at, link, files } => {
            let input = MessageInput {
                kind: if reply { "reply" } else { "inbound" }.into(),
                channel: Some(channel),
                body: Some(text),
                author_contact: from.as_deref().map(|f| id_arg("contact", f)).transpose()?,
                sent_at: at,
                link,
            };
            let message = cases::add_message(store, cases::find(store, &id)?, input, read_files(&files)?)?;
            if json {
                return emit(&message);
            }
            say!("{}", message.id);
            Ok(())
        }
        CaseCommand::Formatted { message } => {
            let id = id_arg("message", &message)?;
            match cases::formatted(store, id)? {
                Some(html) => say!("{html}"),
                None => say!("This message has no formatted version; `liaison case show` shows its text."),
            }
            Ok(())
        }
        CaseCommand::Merge { id, into } => {
            let (from, into) = (cases::find(store, &id)?, cases::find(store, &into)?);
            let case = cases::merge(store, from, into)?;
            if json {
                return emit(&case);
            }
            say!("Merged. Mail to the merged case now joins this one:");
            show_case(&case, false)
        }
        CaseCommand::Relate { id, other, remove } => {
            let (case, other) = (cases::find(store, &id)?, cases::find(store, &other)?);
            show_case(&cases::relate(store, case, other, remove)?, json)
        }
        CaseCommand::Attachment { id, output } => {
            let id = id_arg("attachment", &id)?;
            // From this device, or fetched from the server on first open (and kept).
            let (meta, content) = liaison_core::sync::fetch_attachment(store, id).await?;
            std::fs::write(&output, &content).with_context(|| format!("cannot write {}", output.display()))?;
            if json {
                return emit(&meta);
            }
            say!("Saved {} ({} bytes) to {}.", meta.name, content.len(), output.display());
            Ok(())
        }
        CaseCommand::Presence { id, drafting, leave, since } => {
            use liaison_protocol::wire::Activity;
            let case = cases::find(store, &id)?;
            let activity = match (drafting, leave) {
                (_, true) => Activity::Left,
                (true, _) => Activity::Drafting,
                _ => Activity::Viewing,
            };
            let link = liaison_core::sync::server_link(store)?;
            let seen = link.presence(case, activity, since.as_deref()).await?;
            if json {
                return emit(&seen);
            }
            if seen.others.is_empty() {
                say!("Nobody else is at this case.");
            }
            for other in &seen.others {
                let doing = match other.activity {
                    Activity::Drafting => "is writing a reply",
                    _ => "has it open",
                };
                say!("{} {doing} (on {}, {})", other.user, other.device, local_time(&other.seen_at));
            }
            for reply in &seen.replied_since {
                say!("{} replied since your draft began ({})", reply.user, local_time(&reply.at));
            }
            Ok(())
        }
    }
}

fn show_case(c: &Case, json: bool) -> Result<()> {
    if json {
        return emit(c);
    }
    say!("{}", c.subject);
    say!("  id:        {}", c.id);
    if let Some(number) = c.number {
        say!("  number:    #{number}");
    }
    say!("  queue:     {}", c.queue_name.as_deref().unwrap_or("(not on this device)"));
    say!(
        "  {} via {}, {}{}",
        c.kind,
        c.channel,
        c.state,
        c.priority.as_deref().map(|p| format!(", priority {p}")).unwrap_or_default()
    );
    if let Some(owner) = &c.owner {
        say!("  owner:     {owner}");
    }
    if !c.tags.is_empty() {
        say!("  tags:      {}", c.tags.join(", "));
    }
    for p in &c.wiki_pages {
        say!("  page:      {}:{}", p.wiki, p.title);
    }
    for l in &c.contacts {
        say!(
            "  {:<10} {} ({})",
            format!("{}:", l.role),
            l.name.as_deref().unwrap_or("(contact not on this device)"),
            l.contact_id
        );
    }
    if let Some(survivor) = &c.merged_into {
        say!("  merged into {} — it takes no new messages; write there", case_ref(survivor));
    }
    for merged in &c.merged {
        say!("  merged in: {}", case_ref(merged));
    }
    for link in &c.links {
        say!("  related:   {}", case_ref(link));
    }
    say!("  opened {}, updated {}", c.created_at, c.updated_at);
    if let Some(since) = &c.awaiting_since {
        say!("  waiting:   the reader waits for an answer since {}", local_time(since));
    }
    if let Some(sla) = &c.sla {
        for (name, clock) in
            [("first response", &sla.first_response), ("update", &sla.update), ("resolution", &sla.resolution)]
        {
            let Some(clock) = clock else { continue };
            let due = clock.due.as_deref().map(|d| format!(", due {}", local_time(d))).unwrap_or_default();
            let breached = if clock.breached { " — OVERDUE" } else { "" };
            say!("  SLA {name}: {}{due}{breached}", clock.state);
        }
    }
    for m in &c.messages {
        let who = m.author_name.clone().or_else(|| m.author_user.clone()).unwrap_or_default();
        let what = match m.kind.as_str() {
            "inbound" => "from the reader",
            "reply" => "reply",
            "note" => "internal note",
            _ => "event",
        };
        let from_case = if m.case_id == c.id {
            String::new()
        } else {
            let merged = c.merged.iter().find(|r| r.id == m.case_id);
            format!(" · from {}", merged.map_or_else(|| m.case_id.to_string(), case_ref))
        };
        say!("");
        say!("  — {} · {what} · {} · {who}{from_case}", m.sent_at, m.channel);
        if let Some(link) = &m.link {
            say!("    ↗ {link}");
        }
        if let Some(body) = &m.body {
            for line in body.lines() {
                say!("    {line}");
            }
        }
        if m.encoding_problems {
            say!("    ⚠ the mail's charset was wrong or unknown: some characters may be replaced");
        }
        for o in &m.omitted {
            say!("    ✂ {} ({} bytes) not kept: {}", o.name, o.bytes, o.reason);
        }
        if m.formatted {
            say!("    (a formatted version: `liaison case formatted {}`)", m.id);
        }
        for a in &m.attachments {
            let held = if a.stored { "" } else { " (not on this device yet)" };
            say!("    📎 {} ({} bytes) {}{held}", a.name, a.size, a.id);
        }
        if let Some(d) = &m.delivery {
            let detail = d.detail.as_deref().map(|t| format!(": {t}")).unwrap_or_default();
            say!("    ✉ delivery: {}{detail}", d.state);
        }
    }
    Ok(())
}

/// Another case in one line: `#1234 “Subject” (closed, info-en)`.
fn case_ref(r: &cases::CaseRef) -> String {
    let name = r.number.map_or_else(|| r.id.to_string(), |n| format!("#{n}"));
    match &r.subject {
        Some(subject) => {
            let mut about = vec![r.state.clone().unwrap_or_default()];
            about.extend(r.queue_name.clone());
            format!("{name} “{subject}” ({})", about.join(", "))
        }
        None => format!("{name} (in a queue you are not a member of)"),
    }
}

/// `LANG=TEXT` pairs into language versions.
fn language_versions(texts: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut versions = std::collections::BTreeMap::new();
    for text in texts {
        let (lang, body) = text.split_once('=').ok_or_else(|| {
            anyhow!(Error::invalid(format!(
                "{:?} names no language; write --text \"en=Dear {{{{reader_name|reader}}}}, …\"",
                text.chars().take(40).collect::<String>()
            )))
        })?;
        if versions.insert(lang.trim().to_owned(), body.replace("\\n", "\n")).is_some() {
            return Err(anyhow!(Error::invalid(format!("--text gives {:?} twice", lang.trim()))));
        }
    }
    Ok(versions)
}

pub fn canned(store: &mut Store, cmd: CannedCommand, json: bool) -> Result<()> {
    match cmd {
        CannedCommand::List { queue, archived } => {
            let queue = queue.map(|q| queues::find(store, &q)).transpose()?;
            let list = canned::list(store, queue, archived)?;
            if json {
                return emit(&list);
            }
            if list.is_empty() {
                say!("No canned replies on this device yet (staff add them with `liaison canned add`).");
            }
            let names: std::collections::BTreeMap<Uuid, String> =
                queues::list(store)?.into_iter().map(|q| (q.id, q.name)).collect();
            for c in &list {
                let queue =
                    c.queue_id.map_or("every queue".to_owned(), |q| names.get(&q).cloned().unwrap_or(q.to_string()));
                let shortcut = c.shortcut.as_deref().map(|s| format!("  ::{s}")).unwrap_or_default();
                let langs: Vec<&str> = c.versions.keys().map(String::as_str).collect();
                say!("{}  {}{shortcut}  ({queue}; {})", c.id, c.name, langs.join(", "));
            }
            Ok(())
        }
        CannedCommand::Show { reply, case } => {
            let id = canned::find(store, &reply)?;
            match case {
                Some(case) => {
                    let case = cases::find(store, &case)?;
                    let user = liaison_core::session::signed_in_user(store.conn())?;
                    let rendered = canned::render_for_case(store, id, case, user.as_deref())?;
                    if json {
                        return emit(&rendered);
                    }
                    say!("[{}]", rendered.language);
                    say!("{}", rendered.text);
                    Ok(())
                }
                None => show_canned(&canned::get(store, id)?, json),
            }
        }
        CannedCommand::Add { name, queue, shortcut, texts } => {
            let queue_id = queue.map(|q| queues::find(store, &q)).transpose()?;
            let patch = CannedPatch {
                name: Some(name),
                queue_id: Some(queue_id),
                shortcut: shortcut.map(Some),
                versions: Some(language_versions(&texts)?),
                archived: None,
            };
            let c = canned::create(store, patch)?;
            if json {
                return emit(&c);
            }
            say!("{}", c.id);
            Ok(())
        }
        CannedCommand::Delete { reply } => {
            let id = canned::find(store, &reply)?;
            canned::delete(store, id)?;
            if json {
                return emit(&serde_json::json!({ "deleted": id }));
            }
            say!("Deleted canned reply {id}.");
            Ok(())
        }
    }
}

fn show_canned(c: &CannedReply, json: bool) -> Result<()> {
    if json {
        return emit(c);
    }
    say!("{}{}", c.name, if c.archived { " (archived)" } else { "" });
    say!("  id:        {}", c.id);
    say!("  queue:     {}", c.queue_id.map_or("every queue".to_owned(), |q| q.to_string()));
    if let Some(s) = &c.shortcut {
        say!("  shortcut:  ::{s}");
    }
    for (lang, text) in &c.versions {
        say!("  [{lang}]");
        for line in text.lines() {
            say!("    {line}");
        }
    }
    Ok(())
}

fn parse_sort(name: &str) -> Result<cases::Sort> {
    match name.trim().to_ascii_lowercase().as_str() {
        "updated" => Ok(cases::Sort::Updated),
        "due" => Ok(cases::Sort::Due),
        "waiting" => Ok(cases::Sort::Waiting),
        "created" => Ok(cases::Sort::Created),
        other => {
            Err(Error::invalid(format!("--sort {other:?} is not an order; it is updated, due, waiting or created."))
                .into())
        }
    }
}

/// A UTC time (RFC 3339) in this machine's time zone, as a person reads it.
fn local_time(at: &str) -> String {
    match at.parse::<jiff::Timestamp>() {
        Ok(t) => t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => at.to_owned(),
    }
}
