//! Command-line shape. Scripts rely on these forms; keep them stable.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "liaison", version, about = "Liaison reader-relations client (headless)", propagate_version = true)]
pub struct Cli {
    /// Data directory (default: $LIAISON_DATA_DIR, else the desktop app's per-user directory).
    #[arg(long, global = true, env = "LIAISON_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine-readable JSON output (and JSON errors on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the encrypted local database and its vault.
    Init(InitArgs),
    /// Add, list, search, show, edit and delete contacts.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Sign in to a Liaison server (pins its certificate fingerprint).
    Login(LoginArgs),
    /// Forget the server token; local data and unsent changes are kept.
    Logout,
    /// Push local changes and pull the server's.
    Sync {
        /// Show the sync ledger instead: each outgoing change and its state (pending, sent,
        /// accepted, rejected with the server's reason).
        #[arg(long)]
        status: bool,
        /// With --status: how many of the newest changes to show.
        #[arg(long, default_value_t = 100, requires = "status")]
        limit: usize,
    },
    /// The conflict inbox: concurrent edits the server recorded, and resolving them.
    #[command(subcommand)]
    Conflicts(ConflictsCommand),
    /// Queues this device holds (where cases arrive), their members and settings.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Cases: open, list, show, edit, move through their states, assign, link contacts, and
    /// record notes and interactions from any channel.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Canned replies: texts to insert into replies, per language, with variables such as
    /// {{reader_name|reader}}; for every queue or for one.
    #[command(subcommand)]
    Canned(CannedCommand),
    /// Vault, contacts and sync state.
    Status,
    /// Fill the database with realistic generated contacts (for trying Liaison out).
    Demo {
        /// How many contacts to generate.
        #[arg(long, default_value_t = 500)]
        count: u64,
        /// Seed for the generator (the same seed gives the same people).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Keep the key in the OS keychain (fails with an explanation if none works here).
    #[arg(long, conflicts_with = "passphrase")]
    pub keychain: bool,
    /// Protect the key with a passphrase ($LIAISON_PASSPHRASE or a prompt).
    #[arg(long)]
    pub passphrase: bool,
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a contact; prints its id.
    Add(ContactFields),
    /// List contacts sorted by name.
    List {
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Full-text search (prefix type-ahead, best matches first).
    Search {
        query: String,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one contact.
    Show { id: String },
    /// Edit a contact: each given flag replaces that value (an empty value clears it).
    Edit {
        id: String,
        #[command(flatten)]
        fields: ContactFields,
    },
    /// Delete a contact.
    Delete { id: String },
    /// Erase all data about a person, on the server and every device (right to erasure; staff
    /// and administrators). Cannot be undone; needs the server.
    Erase {
        id: String,
        /// Do not ask for confirmation (required when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Conflicts waiting for a decision (oldest first).
    List {
        /// Also show resolved conflicts.
        #[arg(long)]
        all: bool,
    },
    /// Both sides of one conflict.
    Show { id: String },
    /// Resolve a conflict: keep your side, keep theirs, or write a new value. Resolving is an
    /// ordinary edit; it reaches the server and other devices at the next sync.
    Resolve {
        id: String,
        /// Which side to keep.
        #[arg(long, value_enum, conflicts_with = "value", required_unless_present = "value")]
        keep: Option<KeepSide>,
        /// A new value for the field instead (lists: comma-separated).
        #[arg(long)]
        value: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeepSide {
    Mine,
    Theirs,
}

#[derive(Debug, Args, Default)]
pub struct ContactFields {
    #[arg(long)]
    pub name: Option<String>,
    /// An email address (repeat for several).
    #[arg(long = "email", value_name = "E")]
    pub emails: Vec<String>,
    /// A phone number (repeat for several).
    #[arg(long = "phone", value_name = "P")]
    pub phones: Vec<String>,
    /// Wiki username.
    #[arg(long, value_name = "U")]
    pub wiki_user: Option<String>,
    /// IRC nick.
    #[arg(long, value_name = "NICK")]
    pub irc: Option<String>,
    /// Preferred language (e.g. en, pt-BR).
    #[arg(long, value_name = "L")]
    pub lang: Option<String>,
    /// Organisation.
    #[arg(long, value_name = "O")]
    pub org: Option<String>,
    /// A tag (repeat for several).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// Free notes.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Restrict the contact to staff, administrators and people granted access (`--restricted`
    /// when adding; `--restricted true|false` when editing). Staff and administrators only.
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true")]
    pub restricted: Option<bool>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Server address, e.g. https://127.0.0.1:8443
    pub url: String,
    #[arg(long)]
    pub user: String,
    /// The server certificate's SHA-256 fingerprint, as given by its administrator.
    #[arg(long, value_name = "SHA256")]
    pub fingerprint: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// The queues on this device (all of them for staff; the ones you are a member of otherwise).
    List,
    /// One queue: settings, states, members and open cases. QUEUE is its name or id.
    Show { queue: String },
    /// Create a queue (staff and administrators).
    Add(QueueFields),
    /// Change a queue (staff and administrators); each given flag replaces that value.
    Edit {
        queue: String,
        #[command(flatten)]
        fields: QueueFields,
        /// Archive the queue (true) or bring it back (false).
        #[arg(long, value_name = "true|false")]
        archived: Option<bool>,
    },
    /// Add or remove members (staff and administrators).
    #[command(subcommand)]
    Member(MemberCommand),
}

#[derive(Debug, Args, Default)]
pub struct QueueFields {
    #[arg(long)]
    pub name: Option<String>,
    /// The address readers write to (an empty value clears it).
    #[arg(long)]
    pub email: Option<String>,
    /// The queue's language, e.g. en, de, pt-BR.
    #[arg(long, value_name = "L")]
    pub lang: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// The signature of replies from this queue.
    #[arg(long)]
    pub signature: Option<String>,
    /// Business hours as JSON: {"zone": "Europe/Berlin", "weekly": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-25"]}.
    #[arg(long, value_name = "JSON")]
    pub calendar: Option<String>,
    /// SLA targets in minutes, e.g. first_response=480,update=1440,resolution=10080.
    #[arg(long, value_name = "TARGETS")]
    pub sla: Option<String>,
    /// The queue's own case states (comma-separated), beside new, open, pending, resolved, closed.
    #[arg(long, value_delimiter = ',', value_name = "STATES")]
    pub states: Option<Vec<String>>,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a user to a queue, or change their role in it.
    Add {
        queue: String,
        user: String,
        /// agent or lead.
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// Remove a user from a queue.
    Remove { queue: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case in a queue; prints its id.
    New(NewCase),
    /// Cases, most recently updated first (or in the order --sort names).
    List {
        /// Only this queue (name or id).
        #[arg(long)]
        queue: Option<String>,
        /// Only cases in this state.
        #[arg(long)]
        state: Option<String>,
        /// Only cases owned by this user.
        #[arg(long)]
        owner: Option<String>,
        /// Leave out resolved and closed cases.
        #[arg(long)]
        open: bool,
        /// Words to find in subjects, threads and tags.
        #[arg(long, value_name = "WORDS")]
        search: Option<String>,
        /// A ready-made selection: all, open, unanswered, mine, unassigned, overdue, due-today
        /// (before midnight here) or waiting (on the reader). Every view but all leaves out
        /// resolved and closed cases.
        #[arg(long, value_name = "VIEW")]
        view: Option<String>,
        /// Order: updated (default), due (soonest first), waiting (longest-waiting reader first)
        /// or created.
        #[arg(long, value_name = "ORDER")]
        sort: Option<String>,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One case with its contacts and its thread.
    Show { id: String },
    /// Change a case; each given flag replaces that value (an empty value clears it).
    Edit {
        id: String,
        #[arg(long)]
        subject: Option<String>,
        #[command(flatten)]
        fields: CaseFields,
        /// Move the case to another queue (name or id).
        #[arg(long)]
        queue: Option<String>,
    },
    /// Move a case to a state: new, open, pending (waiting on the reader), resolved, closed, or a
    /// state of its queue.
    State { id: String, state: String },
    /// Give a case to a user, or take it back with --none.
    Assign {
        id: String,
        #[arg(required_unless_present = "none")]
        user: Option<String>,
        #[arg(long, conflicts_with = "user")]
        none: bool,
    },
    /// Link a contact to a case (or change their role), or take them off with --remove.
    Link {
        id: String,
        contact: String,
        /// reader, subject (of the article), representative or other.
        #[arg(long, default_value = "reader")]
        role: String,
        #[arg(long)]
        remove: bool,
    },
    /// Answer the reader: by mail for a case that came by mail (the server sends it at the next
    /// sync, from the queue's address), else recorded as given on the case's channel.
    Reply {
        id: String,
        /// The reply's text (before the canned reply's, when both are given).
        #[arg(long)]
        text: Option<String>,
        /// A canned reply (name, `::shortcut` or id), filled in for the case in its language.
        #[arg(long, value_name = "NAME")]
        canned: Option<String>,
        /// A file to attach (repeat for several).
        #[arg(long = "attach", value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Add an internal note (only the team sees it).
    Note {
        id: String,
        #[arg(long)]
        text: String,
        /// A file to attach (repeat for several).
        #[arg(long = "attach", value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Record an interaction that happened on another channel (IRC, phone, in person …).
    Log {
        id: String,
        /// email, wiki, irc, mailing_list, phone, in_person, social or other.
        #[arg(long)]
        channel: String,
        #[arg(long)]
        text: String,
        /// It was our reply to the reader (default: the reader's message to us).
        #[arg(long)]
        reply: bool,
        /// The reader who wrote (a contact id; default: the case's reader).
        #[arg(long, value_name = "CONTACT")]
        from: Option<String>,
        /// When it happened (RFC 3339, e.g. 2026-12-01T14:30:00Z; default: now).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Where it can be seen: the diff of a talk-page comment, the mailing-list post.
        #[arg(long, value_name = "URL")]
        link: Option<String>,
        #[arg(long = "attach", value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the formatted (HTML) version of a reader's mail, sanitized (no scripts, styles,
    /// forms or remote images).
    Formatted {
        /// The message's id (see `liaison case show`).
        message: String,
    },
    /// Merge a case into another (the reader wrote twice about one thing): it is closed, its
    /// thread and contacts show in the other, and mail to it joins the other from now on.
    Merge {
        /// The case that goes (number, e.g. #1234, or id).
        id: String,
        /// The case that stays.
        #[arg(long, value_name = "CASE")]
        into: String,
    },
    /// Link two related cases (both show the link), or take the link away with --remove.
    Relate {
        id: String,
        /// The related case (number or id).
        other: String,
        #[arg(long)]
        remove: bool,
    },
    /// Save an attachment of a case's thread to a file.
    Attachment {
        /// The attachment's id (see `liaison case show`).
        id: String,
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Tell the server you are at a case (viewing, or --drafting a reply) and see who else is;
    /// --leave ends it. Presence lasts a minute after the last report. Needs the server.
    Presence {
        id: String,
        /// You are writing a reply.
        #[arg(long, conflicts_with = "leave")]
        drafting: bool,
        /// You closed the case.
        #[arg(long)]
        leave: bool,
        /// When your draft began (RFC 3339): also list the replies others sent since.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct NewCase {
    /// The queue (name or id).
    #[arg(long)]
    pub queue: String,
    #[arg(long)]
    pub subject: String,
    #[command(flatten)]
    pub fields: CaseFields,
    /// The reader who wrote (a contact id), linked as reader.
    #[arg(long, value_name = "CONTACT")]
    pub reader: Option<String>,
    /// What the reader wrote: the case's first message.
    #[arg(long)]
    pub text: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct CaseFields {
    /// inquiry, complaint or comment.
    #[arg(long)]
    pub kind: Option<String>,
    /// email, wiki, irc, mailing_list, phone, in_person, social or other.
    #[arg(long)]
    pub channel: Option<String>,
    #[arg(long, value_name = "L")]
    pub lang: Option<String>,
    #[arg(long)]
    pub category: Option<String>,
    /// low, normal, high or urgent.
    #[arg(long)]
    pub priority: Option<String>,
    /// A tag (repeat for several).
    #[arg(long = "tag", value_name = "T")]
    pub tags: Vec<String>,
    /// A wiki page the case is about, as WIKI:TITLE, e.g. en.wikipedia.org:Ada Lovelace (repeat for several).
    #[arg(long = "page", value_name = "WIKI:TITLE")]
    pub pages: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum CannedCommand {
    /// Canned replies on this device, by name (those usable in --queue: its own and those for
    /// every queue).
    List {
        /// Only those usable in this queue (name or id).
        #[arg(long)]
        queue: Option<String>,
        /// Include archived ones.
        #[arg(long)]
        archived: bool,
    },
    /// One canned reply with every language version; with --case, filled in for that case (in
    /// its language, else the queue's, else English).
    Show {
        /// Its name, shortcut or id.
        reply: String,
        #[arg(long, value_name = "CASE_ID")]
        case: Option<String>,
    },
    /// Add a canned reply (staff); prints its id.
    Add {
        #[arg(long)]
        name: String,
        /// Only for this queue (name or id); without it, for every queue.
        #[arg(long)]
        queue: Option<String>,
        /// One word to type after :: in a reply.
        #[arg(long)]
        shortcut: Option<String>,
        /// A language version, LANG=TEXT (repeat for each language), e.g.
        /// --text "en=Dear {{reader_name|reader}}, thank you." (\\n for a line break)
        #[arg(long = "text", value_name = "LANG=TEXT", required = true)]
        texts: Vec<String>,
    },
    /// Delete a canned reply (staff).
    Delete { reply: String },
}
