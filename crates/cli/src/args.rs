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
