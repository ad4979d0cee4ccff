//! `liaison-server`: run the sync server, and manage its users and devices.
//!
//! Thin by design: parse the command line, call the library, add context to errors.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use liaison_protocol::wire::Role;
use liaison_server::admin;
use liaison_server::audit;
use liaison_server::auth::{self, MIN_PASSWORD_CHARS};
use liaison_server::retention::{self, DEFAULT_TOMBSTONE_DAYS};
use liaison_server::server::database_path;
use liaison_server::storage::{DeviceInfo, NewUser, PostgresStorage, SqliteStorage, Storage, User, is_postgres_url};
use liaison_server::{AppState, DEFAULT_LISTEN, ServerConfig, TlsSource};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(name = "liaison-server", version, about = "The Liaison sync server and its admin commands")]
struct Cli {
    /// Directory holding the database (server.db) and the generated certificate (tls/).
    /// Default: the per-user data directory + /liaison-server.
    #[arg(long, global = true, value_name = "DIR", env = "LIAISON_SERVER_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Use this PostgreSQL database instead of the embedded SQLite one in the data directory:
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE. Connect over loopback or a unix socket
    /// (no TLS to the database yet).
    #[arg(long, global = true, value_name = "URL", env = "LIAISON_SERVER_DATABASE", hide_env_values = true)]
    database: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTPS sync server until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// List and revoke signed-in devices.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Erase a person's data (right to erasure) on the server and, at their next sync, on every device.
    #[command(subcommand)]
    Erase(EraseCommand),
    /// Clocks the server pulled back: devices whose clock ran more than 10 minutes ahead.
    #[command(subcommand)]
    Clamps(ClampCommand),
    /// Let a trainer or volunteer see a restricted contact, or a queue without being its member
    /// (staff and admins see them all).
    Grant(GrantArgs),
    /// Take back a grant: the user's devices delete the contact (or the queue's cases) at their next sync.
    Revoke(GrantArgs),
    /// List grants.
    #[command(subcommand)]
    Grants(GrantsCommand),
    /// Remove deletions (tombstones) and revocations older than N days. Devices that last synced
    /// before them re-sync from a snapshot, keeping their unsent changes.
    Prune(PruneArgs),
    /// Create and change queues (where cases arrive) and manage who works in them.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// The desk's mail: fetch now, the outbox of replies, quarantined mail.
    #[command(subcommand)]
    Mail(MailCommand),
    /// The audit log: who did what to which object, when; chained by hash so that a changed,
    /// removed or reordered entry is found.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// The newest entries (oldest first).
    List {
        /// How many of the newest entries.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Check the whole chain; says which entry was changed, removed or moved, and prints the
    /// head (its number and hash) to keep elsewhere: cutting off the newest entries is found
    /// only by comparing with a head kept before.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Read every queue's mailbox now, once, and send the replies that are due.
    Fetch {
        #[arg(long)]
        json: bool,
    },
    /// Replies by mail that are not sent yet (queued, sending, failed) and why.
    Outbox {
        /// Every entry, sent ones too.
        #[arg(long)]
        all: bool,
        /// Send this failed reply (its message id) again.
        #[arg(long, value_name = "MESSAGE_ID")]
        retry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Mail that could not be stored, kept as it arrived.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
}

#[derive(Debug, Subcommand)]
enum QuarantineCommand {
    /// List quarantined messages with the reason for each.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Try a quarantined message again; on success it leaves the quarantine.
    Retry { key: String },
    /// Delete a quarantined message for good.
    Delete { key: String },
    /// Write a quarantined message's raw .eml to FILE.
    Save { key: String, file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum MailboxCommand {
    /// Connect a queue to its mailbox: mail to it becomes cases, replies leave from it. The
    /// password comes from LIAISON_MAILBOX_PASSWORD or a prompt, and stays on the server.
    Set {
        #[arg(value_name = "QUEUE")]
        queue: String,
        /// imap://USER@HOST:PORT (the user may be an address: imap://info-en@example.org@mail.example.org:993).
        #[arg(long, value_name = "URL")]
        imap: String,
        /// smtp://[USER@]HOST:PORT (without a user, mail is sent without signing in).
        #[arg(long, value_name = "URL")]
        smtp: String,
        /// starttls (ports 143 and 587) or implicit (993 and 465).
        #[arg(long, default_value = "starttls", value_name = "starttls|implicit")]
        tls: String,
        /// Trust this PEM certificate instead of the public roots (a workshop's self-signed mail server).
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Leave mail older than this day (YYYY-MM-DD) in a mailbox that already holds years of it.
        #[arg(long, value_name = "YYYY-MM-DD")]
        import_since: Option<String>,
        /// The folder to read (default INBOX).
        #[arg(long, default_value = "INBOX")]
        folder: String,
        /// Move each message to this folder once stored (default: leave it).
        #[arg(long, value_name = "FOLDER")]
        move_to: Option<String>,
    },
    /// Show a queue's mailbox (never its password).
    Show {
        #[arg(value_name = "QUEUE")]
        queue: String,
        #[arg(long)]
        json: bool,
    },
    /// The automatic acknowledgement mail that opens a case gets, per language
    /// (`--text "en=Dear {{reader_name|reader}}, we received your message (case {{case_number}})."`,
    /// once per language), or `--off`. Never sent to automatic mail, lists, bounces or old mail,
    /// and at most 3 times a day per sender.
    Acknowledgement {
        #[arg(value_name = "QUEUE")]
        queue: String,
        #[arg(long, value_name = "LANG=TEXT", required_unless_present = "off")]
        text: Vec<String>,
        #[arg(long, conflicts_with = "text")]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Create a queue, e.g. `queue add --name info-en --email info-en@example.org --language en`.
    Add(QueueFields),
    /// Change a queue's fields. QUEUE is its name or id.
    Edit {
        #[arg(value_name = "QUEUE")]
        queue: String,
        #[command(flatten)]
        fields: QueueFields,
        /// Archive the queue (true) or bring it back (false); queues are never deleted.
        #[arg(long, value_name = "true|false")]
        archived: Option<bool>,
    },
    /// List queues with their members.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add or remove a queue's members. A member's devices receive the queue and its cases.
    #[command(subcommand)]
    Member(MemberCommand),
    /// A queue's mailbox (IMAP in, SMTP out).
    #[command(subcommand)]
    Mailbox(MailboxCommand),
}

#[derive(Debug, Args)]
struct QueueFields {
    /// The queue's name (unique), e.g. info-en.
    #[arg(long)]
    name: Option<String>,
    /// The address readers write to.
    #[arg(long)]
    email: Option<String>,
    /// The language of the queue (a BCP 47 tag such as en, de, pt-BR).
    #[arg(long)]
    language: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// The signature of replies sent from this queue.
    #[arg(long)]
    signature: Option<String>,
    /// Business hours as JSON: {"zone": "Europe/Berlin", "weekly": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-25"]}.
    #[arg(long, value_name = "JSON")]
    calendar: Option<String>,
    /// SLA targets in minutes: first_response=480,update=1440,resolution=10080.
    #[arg(long, value_name = "TARGETS")]
    sla: Option<String>,
    /// Case states of this queue beside new, open, pending, resolved and closed (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "STATES")]
    states: Option<Vec<String>>,
}

#[derive(Debug, Subcommand)]
enum MemberCommand {
    /// Add a user to a queue (or change their role in it).
    Add {
        #[arg(value_name = "QUEUE")]
        queue: String,
        #[arg(value_name = "USER")]
        user: String,
        /// agent or lead.
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// Remove a user from a queue: their devices delete the queue's cases at their next sync.
    Remove {
        #[arg(value_name = "QUEUE")]
        queue: String,
        #[arg(value_name = "USER")]
        user: String,
    },
}

#[derive(Debug, Args)]
struct PruneArgs {
    /// Keep tombstones of the last N days (0: remove every tombstone).
    #[arg(long, value_name = "N")]
    older_than_days: u32,
    /// Print JSON instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct GrantArgs {
    /// The user's name.
    #[arg(value_name = "USER")]
    user: String,
    /// What to grant: a restricted contact, or a queue.
    #[arg(value_enum, value_name = "KIND")]
    kind: ScopeKind,
    /// The contact's or queue's id (a UUID).
    #[arg(value_name = "ID")]
    id: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScopeKind {
    Contact,
    Queue,
}

#[derive(Debug, Subcommand)]
enum GrantsCommand {
    /// List every grant with its user and when it was given.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ClampCommand {
    /// List the newest clamps with the device and user, and how far ahead the clock was.
    List {
        /// How many of the newest clamps to show.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum EraseCommand {
    /// Erase a contact and every row that belongs to it (emails, phones, identifiers, conflicts). Later
    /// changes to them from any device are refused. This cannot be undone.
    Contact {
        /// The contact's id (a UUID).
        #[arg(value_name = "ID")]
        id: String,
        /// Print JSON instead of a sentence.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// PEM certificate chain to serve instead of the generated self-signed certificate.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Keep deletions (tombstones) this many days: longer than any device stays offline. Older
    /// ones are removed at start and once a day; devices away longer re-sync from a snapshot.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_TOMBSTONE_DAYS)]
    tombstone_days: u32,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password comes from LIAISON_PASSWORD when set, else it is asked twice.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role.
    SetRole {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// List devices with their users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device: its token stops working and it is told to wipe its local data.
    Revoke {
        #[arg(value_name = "DEVICE_ID")]
        device_id: Uuid,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Staff,
    Trainer,
    Volunteer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Staff => Role::Staff,
            RoleArg::Trainer => Role::Trainer,
            RoleArg::Volunteer => Role::Volunteer,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    // Anything in the process that asks rustls for its default provider gets ring, never aws-lc-rs.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .context("cannot tell where this system keeps per-user data; pass --data-dir DIR")?
            .join("liaison-server"),
    };
    let db = match cli.database {
        Some(url) if is_postgres_url(&url) => Database::Postgres(url),
        Some(_) => bail!(
            "--database must be a PostgreSQL URL such as postgres://USER@HOST:PORT/DATABASE; \
             leave it out to use the embedded SQLite database in the data directory"
        ),
        None => Database::Sqlite(data_dir.clone()),
    };
    match cli.command {
        Command::Serve(args) => serve(data_dir, &db, args).await,
        Command::User(UserCommand::Add { name, role }) => user_add(&db, &name, role.into()).await,
        Command::User(UserCommand::List { json }) => user_list(&db, json).await,
        Command::User(UserCommand::SetRole { name, role }) => user_set_role(&db, &name, role.into()).await,
        Command::Device(DeviceCommand::List { json }) => device_list(&db, json).await,
        Command::Device(DeviceCommand::Revoke { device_id }) => device_revoke(&db, device_id).await,
        Command::Erase(EraseCommand::Contact { id, json }) => erase_contact(&db, &id, json).await,
        Command::Clamps(ClampCommand::List { limit, json }) => clamps_list(&db, limit, json).await,
        Command::Grant(args) => grant(&db, &args).await,
        Command::Revoke(args) => revoke(&db, &args).await,
        Command::Grants(GrantsCommand::List { json }) => grants_list(&db, json).await,
        Command::Prune(args) => prune(&db, &args).await,
        Command::Queue(command) => queue(&db, command).await,
        Command::Mail(command) => mail(&db, command).await,
        Command::Audit(AuditCommand::List { limit, json }) => audit_list(&db, limit, json).await,
        Command::Audit(AuditCommand::Verify { json }) => audit_verify(&db, json).await,
    }
}

/// Where the users, devices and synced rows live.
enum Database {
    /// The embedded SQLite database in this data directory.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (may hold a password: never print it).
    Postgres(String),
}

async fn connect_postgres(url: &str) -> Result<Arc<dyn Storage>> {
    let storage = PostgresStorage::connect(url).await.context("cannot open the PostgreSQL database")?;
    Ok(Arc::new(storage))
}

async fn serve(data_dir: PathBuf, db: &Database, args: ServeArgs) -> Result<()> {
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files { cert, key },
        _ => TlsSource::SelfSigned,
    };
    // Install the signal handlers before announcing, so a SIGTERM sent right after the
    // announcement shuts down gracefully instead of killing the process.
    let shutdown = shutdown_signal().context("cannot listen for Ctrl-C and SIGTERM")?;
    let config = ServerConfig { data_dir: data_dir.clone(), listen: args.listen.clone(), tls };
    let storage: Arc<dyn Storage> = match db {
        Database::Sqlite(_) => {
            liaison_server::tls::create_private_dir(&data_dir).with_context(|| {
                format!("cannot create the data directory {}; choose another with --data-dir", data_dir.display())
            })?;
            let path = database_path(&data_dir);
            let open = path.clone();
            let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&open))
                .await
                .context("opening the database failed")?
                .with_context(|| format!("cannot open the database {}", path.display()))?;
            Arc::new(storage)
        }
        Database::Postgres(url) => {
            let storage = PostgresStorage::connect(url).await.context("cannot open the PostgreSQL database")?;
            tracing::info!(database = storage.target(), "using PostgreSQL");
            Arc::new(storage)
        }
    };
    // Prunes once now (in the background, so a large first prune does not delay the start) and
    // then daily.
    retention::spawn_daily(Arc::clone(&storage), args.tombstone_days);
    // Mail in and out for the queues that have a mailbox, and every case's SLA clocks.
    tokio::spawn(liaison_server::mail::run(Arc::clone(&storage)));
    let result = liaison_server::serve_with_state(config, AppState::new(storage), shutdown).await;
    result.with_context(|| format!("the server on {} with data in {} failed", args.listen, data_dir.display()))
}

#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Open the database of an existing server (a data directory's SQLite file, or PostgreSQL).
async fn open_existing(db: &Database) -> Result<Arc<dyn Storage>> {
    let data_dir = match db {
        Database::Sqlite(dir) => dir,
        Database::Postgres(url) => return connect_postgres(url).await,
    };
    let path = database_path(data_dir);
    if !path.exists() {
        bail!(
            "there is no server database at {}; pass the --data-dir of your server, or create the first user with `liaison-server user add`",
            path.display()
        );
    }
    let storage =
        SqliteStorage::open(&path).with_context(|| format!("cannot open the server database {}", path.display()))?;
    Ok(Arc::new(storage))
}

/// Open the database, creating the SQLite one (and its data directory) when it does not exist.
async fn open_or_create(db: &Database) -> Result<Arc<dyn Storage>> {
    let data_dir = match db {
        Database::Sqlite(dir) => dir,
        Database::Postgres(url) => return connect_postgres(url).await,
    };
    liaison_server::tls::create_private_dir(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let path = database_path(data_dir);
    let storage =
        SqliteStorage::open(&path).with_context(|| format!("cannot open the server database {}", path.display()))?;
    Ok(Arc::new(storage))
}

fn read_password(name: &str) -> Result<String> {
    let password = match std::env::var("LIAISON_PASSWORD") {
        Ok(p) => p,
        Err(std::env::VarError::NotUnicode(_)) => bail!("LIAISON_PASSWORD is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) => {
            let first = rpassword::prompt_password(format!("Password for {name}: ")).context(
                "cannot read a password from the terminal; set LIAISON_PASSWORD to give it non-interactively",
            )?;
            let second = rpassword::prompt_password("Repeat the password: ").context(
                "cannot read a password from the terminal; set LIAISON_PASSWORD to give it non-interactively",
            )?;
            if first != second {
                bail!("the two passwords differ; run the command again");
            }
            first
        }
    };
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        bail!("the password is too short ({chars} characters); use at least {MIN_PASSWORD_CHARS}");
    }
    Ok(password)
}

async fn user_add(db: &Database, name: &str, role: Role) -> Result<()> {
    liaison_server::storage::validate_user_name(name).map_err(anyhow::Error::msg).context("invalid user name")?;
    let password = read_password(name)?;
    let storage = open_or_create(db).await?;
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .context("hashing the password failed")?
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))?;
    let user = storage
        .create_user(NewUser { name: name.to_owned(), role, password_hash })
        .await
        .with_context(|| format!("cannot create user {name:?}"))?;
    println!("Created user {} with role {}.", user.name, user.role);
    Ok(())
}

async fn user_list(db: &Database, json: bool) -> Result<()> {
    let users = open_existing(db).await?.list_users().await.context("cannot list users")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&users)?);
        return Ok(());
    }
    let rows: Vec<[String; 3]> = users
        .iter()
        .map(|u: &User| [u.name.clone(), u.role.to_string(), u.created_at.format("%Y-%m-%d %H:%M UTC").to_string()])
        .collect();
    print_table(&["NAME", "ROLE", "CREATED"], &rows);
    Ok(())
}

async fn audit_list(db: &Database, limit: u64, json: bool) -> Result<()> {
    let storage = open_existing(db).await?;
    let all = audit::all(&*storage).await.context("cannot read the audit log")?;
    let newest = &all[all.len().saturating_sub(usize::try_from(limit).unwrap_or(usize::MAX))..];
    if json {
        println!("{}", serde_json::to_string_pretty(newest)?);
        return Ok(());
    }
    if newest.is_empty() {
        println!("The audit log is empty.");
        return Ok(());
    }
    let rows: Vec<[String; 6]> = newest
        .iter()
        .map(|e| {
            [e.seq.to_string(), e.at.clone(), e.actor.clone(), e.action.clone(), e.object.clone(), e.detail.clone()]
        })
        .collect();
    print_table(&["SEQ", "AT (UTC)", "WHO", "WHAT", "OBJECT", "DETAIL"], &rows);
    Ok(())
}

async fn audit_verify(db: &Database, json: bool) -> Result<()> {
    let storage = open_existing(db).await?;
    let all = audit::all(&*storage).await.context("cannot read the audit log")?;
    let checked = audit::verify(all);
    if json {
        let value = match &checked {
            Ok(v) => serde_json::json!({ "ok": true, "entries": v.entries, "head": v.head }),
            Err(b) => serde_json::json!({ "ok": false, "seq": b.seq, "why": b.why }),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    match checked {
        Ok(v) => {
            if !json {
                match &v.head {
                    Some((seq, hash)) => println!(
                        "The audit log is whole: {} entries. Head: entry {seq}, hash {hash} (keep it: a later verify that ends earlier means entries were cut off).",
                        v.entries
                    ),
                    None => println!("The audit log is empty."),
                }
            }
            Ok(())
        }
        Err(b) => bail!("the audit log was tampered with: {} (entries from {} on cannot be trusted)", b.why, b.seq),
    }
}

async fn user_set_role(db: &Database, name: &str, role: Role) -> Result<()> {
    let storage = open_existing(db).await?;
    let user = storage
        .set_role(name, role)
        .await
        .with_context(|| format!("cannot change the role of {name:?}; `liaison-server user list` shows the users"))?;
    audit::record(&*storage, "admin", "role_set", &format!("user:{}", user.name), &user.role.to_string()).await;
    println!("{} now has role {}.", user.name, user.role);
    Ok(())
}

async fn device_list(db: &Database, json: bool) -> Result<()> {
    let devices = open_existing(db).await?.list_devices().await.context("cannot list devices")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&devices)?);
        return Ok(());
    }
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let rows: Vec<[String; 6]> = devices
        .iter()
        .map(|d: &DeviceInfo| {
            [
                d.device.id.to_string(),
                d.user_name.clone(),
                d.device.name.clone(),
                time(d.device.created_at),
                time(d.device.last_seen_at),
                match (d.device.revoked_at, d.device.wiped_at) {
                    (None, _) => "active".to_owned(),
                    (Some(r), None) => format!("revoked {} (wipe not confirmed yet)", time(r)),
                    (Some(r), Some(w)) => format!("revoked {}, wiped {}", time(r), time(w)),
                },
            ]
        })
        .collect();
    print_table(&["ID", "USER", "NAME", "CREATED", "LAST SEEN", "STATUS"], &rows);
    Ok(())
}

async fn clamps_list(db: &Database, limit: u32, json: bool) -> Result<()> {
    let clamps = open_existing(db).await?.list_clamps(limit.max(1)).await.context("cannot list clock clamps")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&clamps)?);
        return Ok(());
    }
    if clamps.is_empty() {
        println!("No device's clock has run ahead of the server's.");
        return Ok(());
    }
    let rows: Vec<[String; 5]> = clamps
        .iter()
        .map(|c| {
            [
                c.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                c.user_name.clone(),
                format!("{} ({})", c.device_name, c.device_id),
                c.field.clone().unwrap_or_else(|| "(delete)".to_owned()),
                format!("{} min ahead", c.ahead_millis() / 60_000),
            ]
        })
        .collect();
    print_table(&["WHEN", "USER", "DEVICE", "FIELD", "CLOCK"], &rows);
    println!(
        "Ask these users to set their computer's clock automatically; their edits were kept, at the server's time."
    );
    Ok(())
}

async fn device_revoke(db: &Database, device_id: Uuid) -> Result<()> {
    let storage = open_existing(db).await?;
    let info = storage
        .revoke_device(device_id, chrono::Utc::now())
        .await
        .with_context(|| format!("cannot revoke device {device_id}; `liaison-server device list` shows the devices"))?;
    audit::record(
        &*storage,
        "admin",
        "device_revoked",
        &format!("device:{device_id}"),
        &format!("user {}", info.user_name),
    )
    .await;
    println!(
        "Revoked device {} ({}) of {}. It will be told to wipe its local data the next time it connects.",
        info.device.id, info.device.name, info.user_name
    );
    Ok(())
}

async fn erase_contact(db: &Database, id: &str, json: bool) -> Result<()> {
    let Ok(contact_id) = Uuid::parse_str(id.trim()) else {
        let shown: String = id.chars().take(64).collect();
        bail!(
            "{shown:?} is not a contact id; a contact id is a UUID such as 01890a5d-ac96-774b-bcce-b302099a8057 \
             (the app shows it in the contact's details)"
        );
    };
    let storage = open_existing(db).await?;
    let report = storage
        .erase_contact(contact_id, chrono::Utc::now())
        .await
        .with_context(|| format!("cannot erase contact {contact_id}; nothing was erased"))?;
    audit::record(&*storage, "admin", "contact_erased", &format!("contact:{contact_id}"), "").await;
    if json {
        let value = serde_json::json!({ "contact_id": contact_id, "report": report });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if report.already_erased && report.rows == 0 {
        println!("Contact {contact_id} was already erased; nothing more to erase.");
    } else {
        println!(
            "Erased contact {contact_id} and {} related rows; devices will delete them at their next sync.",
            report.related_rows
        );
        if !report.contact_found {
            println!("The server held no contact with this id; it is recorded as erased so no device can create it.");
        }
    }
    Ok(())
}

/// The contact id of a `grant`/`revoke` command, with the error a person can act on.
fn contact_arg(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| {
        let shown: String = id.chars().take(64).collect();
        anyhow::anyhow!(
            "{shown:?} is not a contact id; a contact id is a UUID such as 01890a5d-ac96-774b-bcce-b302099a8057 \
             (the app shows it in the contact's details)"
        )
    })
}

fn scope_of(args: &GrantArgs) -> Result<(String, Uuid)> {
    let id = contact_arg(&args.id)?;
    let kind = match args.kind {
        ScopeKind::Contact => liaison_protocol::schema::EntityKind::Contact,
        ScopeKind::Queue => liaison_protocol::schema::EntityKind::Queue,
    };
    Ok((liaison_protocol::scope::of(kind, id), id))
}

async fn grant(db: &Database, args: &GrantArgs) -> Result<()> {
    let (scope, id) = scope_of(args)?;
    let storage = open_existing(db).await?;
    let report = storage
        .grant(&args.user, &scope, chrono::Utc::now())
        .await
        .with_context(|| format!("cannot grant {:?} access to contact {id}; nothing changed", args.user))?;
    audit::record(&*storage, "admin", "grant", &format!("user:{}", report.grant.user_name), &scope).await;
    let user = &report.grant.user_name;
    if !report.created {
        println!("{user} already has access to contact {id}; nothing changed.");
    } else if report.rows == 0 {
        println!(
            "Granted {user} access to contact {id}. The server holds no restricted records of it yet; \
             they will reach {user}'s devices when it is restricted."
        );
    } else {
        println!(
            "Granted {user} access to contact {id}; its {} records will reach {user}'s devices at their next sync.",
            report.rows
        );
    }
    Ok(())
}

async fn revoke(db: &Database, args: &GrantArgs) -> Result<()> {
    let (scope, id) = scope_of(args)?;
    let storage = open_existing(db).await?;
    let grant = storage
        .revoke(&args.user, &scope, chrono::Utc::now())
        .await
        .with_context(|| format!("cannot revoke {:?}'s access to contact {id}", args.user))?;
    audit::record(&*storage, "admin", "revoke", &format!("user:{}", grant.user_name), &scope).await;
    println!(
        "Revoked {}'s access to contact {id}; their devices will delete its records at their next sync.",
        grant.user_name
    );
    Ok(())
}

async fn grants_list(db: &Database, json: bool) -> Result<()> {
    let grants = open_existing(db).await?.list_grants().await.context("cannot list grants")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&grants)?);
        return Ok(());
    }
    if grants.is_empty() {
        println!("No grants: only staff and administrators see restricted contacts.");
        return Ok(());
    }
    let rows: Vec<[String; 3]> = grants
        .iter()
        .map(|g| [g.user_name.clone(), g.scope.clone(), g.granted_at.format("%Y-%m-%d %H:%M UTC").to_string()])
        .collect();
    print_table(&["USER", "SCOPE", "GRANTED"], &rows);
    Ok(())
}

async fn prune(db: &Database, args: &PruneArgs) -> Result<()> {
    let days = args.older_than_days;
    let report = retention::prune(&*open_existing(db).await?, days, chrono::Utc::now())
        .await
        .context("cannot prune old tombstones; nothing was removed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", retention::describe(&report, days));
    }
    Ok(())
}

fn queue_input(fields: QueueFields, archived: Option<bool>) -> Result<admin::QueueInput> {
    let calendar = fields
        .calendar
        .map(|text| serde_json::from_str::<serde_json::Value>(&text))
        .transpose()
        .context("--calendar is not JSON; see `liaison-server queue add --help` for its form")?;
    if let Some(calendar) = &calendar {
        liaison_protocol::schema::EntityKind::Queue
            .def()
            .validate("calendar", calendar)
            .map_err(|why| anyhow::anyhow!("--calendar: {why}"))?;
    }
    let sla = fields.sla.as_deref().map(admin::parse_sla).transpose().map_err(|e| anyhow::anyhow!("--sla: {e}"))?;
    Ok(admin::QueueInput {
        name: fields.name,
        email: fields.email,
        language: fields.language,
        description: fields.description,
        signature: fields.signature,
        calendar,
        sla,
        states: fields.states.map(|s| s.into_iter().map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect()),
        archived,
    })
}

async fn queue(db: &Database, command: QueueCommand) -> Result<()> {
    let storage = open_existing(db).await?;
    let now = chrono::Utc::now();
    match command {
        QueueCommand::Add(fields) => {
            let name = fields.name.clone().unwrap_or_default();
            let id = admin::add_queue(&*storage, &queue_input(fields, None)?, now)
                .await
                .context("cannot create the queue; nothing changed")?;
            println!("Created queue {name} ({id}). Add its members with: liaison-server queue member add {name} USER");
        }
        QueueCommand::Edit { queue, fields, archived } => {
            let info = admin::edit_queue(&*storage, &queue, &queue_input(fields, archived)?, now)
                .await
                .with_context(|| format!("cannot change queue {queue}; nothing changed"))?;
            println!("Changed queue {} ({}); devices receive the change at their next sync.", info.name, info.id);
        }
        QueueCommand::List { json } => {
            let queues = admin::list_queues(&*storage).await.context("cannot list queues")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&queues)?);
            } else if queues.is_empty() {
                println!(
                    "No queues yet. Create one with: liaison-server queue add --name info-en --email info-en@example.org"
                );
            } else {
                let rows: Vec<[String; 5]> = queues
                    .iter()
                    .map(|q| {
                        let members: Vec<String> = q
                            .members
                            .iter()
                            .map(
                                |m| if m.role == "agent" { m.user.clone() } else { format!("{} ({})", m.user, m.role) },
                            )
                            .collect();
                        [
                            q.name.clone() + if q.archived { " (archived)" } else { "" },
                            q.id.to_string(),
                            q.email.clone().unwrap_or_default(),
                            q.language.clone().unwrap_or_default(),
                            members.join(", "),
                        ]
                    })
                    .collect();
                print_table(&["QUEUE", "ID", "EMAIL", "LANGUAGE", "MEMBERS"], &rows);
            }
        }
        QueueCommand::Member(MemberCommand::Add { queue, user, role }) => {
            admin::add_member(&*storage, &queue, &user, &role, now)
                .await
                .with_context(|| format!("cannot add {user} to {queue}; nothing changed"))?;
            println!("{user} is a member ({role}) of {queue}; their devices receive its cases at their next sync.");
        }
        QueueCommand::Mailbox(command) => mailbox(&*storage, command, now).await?,
        QueueCommand::Member(MemberCommand::Remove { queue, user }) => {
            admin::remove_member(&*storage, &queue, &user, now)
                .await
                .with_context(|| format!("cannot remove {user} from {queue}; nothing changed"))?;
            println!("{user} is no longer a member of {queue}; their devices delete its cases at their next sync.");
        }
    }
    Ok(())
}

async fn mailbox(storage: &dyn Storage, command: MailboxCommand, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    use liaison_server::mail::{self, Endpoint, Mailbox, TlsMode};
    match command {
        MailboxCommand::Set { queue, imap, smtp, tls, ca_cert, import_since, folder, move_to } => {
            let queues = admin::list_queues(storage).await.context("cannot list queues")?;
            let info = admin::find(&queues, &queue)?;
            let tls = TlsMode::parse(&tls)?;
            let imap = Endpoint::parse(&imap, "imap", tls)?;
            let smtp = Endpoint::parse(&smtp, "smtp", tls)?;
            let ca_cert_pem = match ca_cert {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read the CA certificate {}", path.display()))?,
                ),
                None => None,
            };
            let import_since = import_since
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                        .with_context(|| format!("--import-since {d:?} is not a day like 2026-12-01"))
                })
                .transpose()?;
            let password = match std::env::var("LIAISON_MAILBOX_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => rpassword::prompt_password(format!(
                    "Password of {} on {}: ",
                    imap.user.as_deref().unwrap_or("?"),
                    imap.host
                ))
                .context("cannot read the password; set LIAISON_MAILBOX_PASSWORD instead")?,
            };
            // A mailbox set again keeps its acknowledgement.
            let acknowledgement =
                mail::mailbox_of(storage, info.id).await?.map(|m| m.acknowledgement).unwrap_or_default();
            let mailbox = Mailbox {
                queue_id: info.id,
                imap,
                smtp,
                tls,
                password,
                ca_cert_pem,
                folder,
                import_since,
                move_to,
                acknowledgement,
            };
            mail::set_mailbox(storage, &mailbox, now).await.context("cannot keep the mailbox; nothing changed")?;
            println!(
                "Queue {} reads mail from {}:{} and sends from {}:{}. A running server picks it up within {} s; `liaison-server mail fetch` reads it now.",
                info.name,
                mailbox.imap.host,
                mailbox.imap.port,
                mailbox.smtp.host,
                mailbox.smtp.port,
                mail::poll_interval().as_secs()
            );
        }
        MailboxCommand::Acknowledgement { queue, text, off } => {
            let queues = admin::list_queues(storage).await.context("cannot list queues")?;
            let info = admin::find(&queues, &queue)?;
            let versions = if off { Default::default() } else { mail::parse_acknowledgement(&text)? };
            mail::set_acknowledgement(storage, info.id, versions.clone(), now).await?;
            if versions.is_empty() {
                println!("Queue {} sends no acknowledgement.", info.name);
            } else {
                let languages: Vec<&str> = versions.keys().map(String::as_str).collect();
                println!(
                    "Queue {} acknowledges mail that opens a case, in {} (the case's language, else English, else the first).",
                    info.name,
                    languages.join(", ")
                );
            }
        }
        MailboxCommand::Show { queue, json } => {
            let queues = admin::list_queues(storage).await.context("cannot list queues")?;
            let info = admin::find(&queues, &queue)?;
            let Some(mailbox) = mail::mailbox_of(storage, info.id).await? else {
                bail!(
                    "queue {} has no mailbox; connect one with `liaison-server queue mailbox set {} --imap … --smtp …`",
                    info.name,
                    info.name
                );
            };
            let shown = mail::describe(storage, &mailbox).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
            } else {
                println!("imap:  {} ({:?}, folder {})", shown.imap, shown.tls, shown.folder);
                println!("smtp:  {}", shown.smtp);
                if let (Some(uid), Some(validity)) = (shown.last_uid, shown.uid_validity) {
                    println!("read:  up to UID {uid} (UIDVALIDITY {validity})");
                } else {
                    println!("read:  not yet");
                }
                if shown.acknowledgement.is_empty() {
                    println!("ack:   none");
                } else {
                    println!("ack:   {}", shown.acknowledgement.join(", "));
                }
            }
        }
    }
    Ok(())
}

async fn mail(db: &Database, command: MailCommand) -> Result<()> {
    use liaison_server::mail;
    let storage = open_existing(db).await?;
    let now = chrono::Utc::now();
    match command {
        MailCommand::Fetch { json } => {
            mail::outbox::recover(&*storage, now).await?;
            let round = mail::round(&*storage).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&round)?);
            } else {
                if round.fetched.is_empty() {
                    println!("No queue has a mailbox; connect one with `liaison-server queue mailbox set`.");
                }
                for r in &round.fetched {
                    match &r.error {
                        Some(e) => println!("queue {}: stopped: {e}", r.queue_id),
                        None => println!(
                            "queue {}: {} new cases, {} messages to existing cases, {} already stored, {} bounces, {} quarantined",
                            r.queue_id, r.cases, r.joined, r.duplicates, r.bounces, r.quarantined
                        ),
                    }
                }
                println!("sent {}, retrying {}, failed {}", round.sent.sent, round.sent.retrying, round.sent.failed);
            }
            if round.fetched.iter().any(|r| r.error.is_some()) {
                bail!("some mailboxes could not be read (see above)");
            }
        }
        MailCommand::Outbox { all, retry, json } => {
            if let Some(id) = retry {
                mail::outbox::retry(&*storage, id.trim(), now).await?;
                println!(
                    "Reply {id} is queued again; the server sends it within {} s.",
                    mail::poll_interval().as_secs()
                );
                return Ok(());
            }
            let entries = mail::outbox::entries(&*storage, all).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else if entries.is_empty() {
                println!("The outbox is empty: every reply by mail was sent.");
            } else {
                let rows: Vec<[String; 4]> = entries
                    .iter()
                    .map(|e| {
                        [
                            e.message_id.clone(),
                            e.state.clone(),
                            e.attempts.to_string(),
                            e.detail.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["MESSAGE", "STATE", "ATTEMPTS", "DETAIL"], &rows);
            }
        }
        MailCommand::Quarantine(QuarantineCommand::List { json }) => {
            let held = mail::ingest::quarantined(&*storage).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&held)?);
            } else if held.is_empty() {
                println!("Nothing is quarantined.");
            } else {
                let rows: Vec<[String; 4]> = held
                    .iter()
                    .map(|h| {
                        [
                            h.key.clone(),
                            h.from.clone().unwrap_or_default(),
                            h.subject.clone().unwrap_or_default(),
                            h.reason.clone(),
                        ]
                    })
                    .collect();
                print_table(&["KEY", "FROM", "SUBJECT", "REASON"], &rows);
            }
        }
        MailCommand::Quarantine(QuarantineCommand::Retry { key }) => {
            let outcome = mail::ingest::retry(&*storage, &key, now).await?;
            println!("{}", serde_json::to_string(&outcome)?);
        }
        MailCommand::Quarantine(QuarantineCommand::Delete { key }) => {
            mail::ingest::forget(&*storage, &key).await?;
            println!("Deleted {key} from the quarantine.");
        }
        MailCommand::Quarantine(QuarantineCommand::Save { key, file }) => {
            let record = storage.record("quarantine", &key).await?.with_context(|| {
                format!("nothing is quarantined as {key:?}; `liaison-server mail quarantine list` shows what is")
            })?;
            std::fs::write(&file, record.bytes.unwrap_or_default())
                .with_context(|| format!("cannot write {}", file.display()))?;
            println!("Wrote {key} to {}.", file.display());
        }
    }
    Ok(())
}

fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
