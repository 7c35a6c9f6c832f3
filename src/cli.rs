//! `wristband users ...`: account administration from the command line,
//! on the same configuration (profile, `databases.wristband.url`) as the
//! server.

use std::fmt::Write;
use std::io::{self, BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rocket::{Ignite, Rocket};
use rocket_db_pools::Database;
use sqlx::AnyPool;

use crate::db::Db;
use crate::users::{self, CreateError, Username};
use wristband::sessions::PublicId;
use wristband::{attempts, retention, sessions, tokens, user_agent};
use wristband::{format_utc, Clock, Hasher, Password, Settings};

/// wristband: Flask-Login-style authentication for Rocket.
///
/// Without a command, serves the app.
#[derive(Debug, Parser)]
#[command(name = "wristband", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app (the default).
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List every account.
    List,
    /// Create an account; the password is read from a prompt, or from
    /// standard input when that is not a terminal. Never an argument: those
    /// end up in shell history and process listings.
    Create { name: String },
    /// Deactivate an account: it cannot log in, and its sessions end on
    /// their next request.
    Deactivate { name: String },
    /// Reactivate a deactivated account.
    Activate { name: String },
    /// Delete an account and its login history.
    Delete { name: String },
    /// List an account's live sessions (its wristbands the server knows).
    Sessions { name: String },
    /// End every session of an account: each browser is signed out at its
    /// next request.
    Logout { name: String },
    /// List an account's live API tokens, or revoke one of them.
    Tokens {
        name: String,
        /// Revoke the token with this id (as the list shows it).
        #[arg(long, value_name = "ID")]
        revoke: Option<String>,
    },
    /// Show an account's recent login attempts and logouts.
    History {
        name: String,
        /// How many entries to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Delete login history older than `history_days` now (the server also
    /// does it at launch and every hour).
    Prune,
}

/// A command's failure: one line for standard error.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Runs a `users` command and says how it went.
pub async fn run_users(command: UsersCommand) -> ExitCode {
    match users_command(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The app's configuration, pool and migrations, without serving.
async fn ignite() -> Result<Rocket<Ignite>, Failure> {
    let mut figment = crate::config::figment().merge(("log_level", "critical"));
    // The release profile insists on a secret key, but these commands never
    // touch cookies; a throwaway key keeps them usable where it is unset.
    let configured = figment.extract_inner::<rocket::config::SecretKey>("secret_key");
    if !configured.is_ok_and(|key| !key.is_zero()) {
        let throwaway: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
        figment = figment.merge(("secret_key", throwaway));
    }
    crate::build(figment, Clock::system())
        .ignite()
        .await
        .map_err(|e| Failure(format!("cannot start: {e} (see the messages above)")))
}

fn username(name: &str) -> Result<Username, Failure> {
    Username::parse(name)
        .map_err(|reason| Failure(format!("{name:?} is not a valid username: {reason}")))
}

async fn account_id(db: &AnyPool, name: &Username) -> Result<i64, Failure> {
    users::find_credentials(db, name)
        .await?
        .map(|account| account.user.id)
        .ok_or_else(|| Failure(format!("no user named {name}")))
}

/// Reads the new password: twice at a terminal (without echo), once from
/// a pipe.
fn read_password() -> Result<Password, Failure> {
    let typed = if io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            return Err(Failure("the passwords do not match".into()));
        }
        first
    } else {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    Password::parse(&typed).map_err(|reason| Failure(format!("password refused: {reason}")))
}

async fn users_command(command: UsersCommand) -> Result<(), Failure> {
    let rocket = ignite().await?;
    let db: &AnyPool =
        Db::fetch(&rocket).ok_or_else(|| Failure("the database is not attached".into()))?;
    // Collected, then printed: the output appears whole or not at all.
    let mut out = String::new();
    match command {
        UsersCommand::List => {
            writeln!(
                out,
                "{:>6}  {:<32}  {:<11}  created",
                "id", "username", "status"
            )?;
            for account in users::list(db).await? {
                let status = if account.active {
                    "active"
                } else {
                    "deactivated"
                };
                writeln!(
                    out,
                    "{:>6}  {:<32}  {:<11}  {}",
                    account.user.id,
                    account.user.username,
                    status,
                    format_utc(account.created_at)
                )?;
            }
        }
        UsersCommand::Create { name } => {
            let name = username(&name)?;
            let password = read_password()?;
            let hasher = rocket
                .state::<Hasher>()
                .ok_or_else(|| Failure("no password hasher".into()))?;
            let hash = hasher.hash(&password).await?;
            match users::create(db, &name, &hash, Clock::system().now()).await {
                Ok(user) => writeln!(out, "created {} (id {})", user.username, user.id)?,
                Err(CreateError::Taken) => {
                    return Err(Failure(format!("the username {name} is taken")))
                }
                Err(CreateError::Store(e)) => return Err(e.into()),
            }
        }
        UsersCommand::Deactivate { name } => {
            let name = username(&name)?;
            if !users::set_active(db, &name, false, Clock::system().now()).await? {
                return Err(Failure(format!("no user named {name}")));
            }
            writeln!(out, "deactivated {name}: its sessions have ended")?;
        }
        UsersCommand::Activate { name } => {
            let name = username(&name)?;
            if !users::set_active(db, &name, true, Clock::system().now()).await? {
                return Err(Failure(format!("no user named {name}")));
            }
            writeln!(out, "activated {name}")?;
        }
        UsersCommand::Delete { name } => {
            let name = username(&name)?;
            let id = account_id(db, &name).await?;
            users::delete(db, id).await?;
            writeln!(out, "deleted {name} and its login history")?;
        }
        UsersCommand::Sessions { name } => {
            let name = username(&name)?;
            let id = account_id(db, &name).await?;
            writeln!(
                out,
                "{:<32}  {:<20}  {:<20}  {:<28}  {:<39}  device",
                "session", "started", "last seen", "ends", "address"
            )?;
            // Expired rows too, marked: they are refused, and pruned later.
            let now = Clock::system().now();
            for session in sessions::list(db, &id.to_string(), i64::MIN).await? {
                let ends = if session.expires_at > now {
                    format_utc(session.expires_at)
                } else {
                    format!("{} (ended)", format_utc(session.expires_at))
                };
                let address = if session.client_ip.is_empty() {
                    "-"
                } else {
                    session.client_ip.as_str()
                };
                writeln!(
                    out,
                    "{:<32}  {:<20}  {:<20}  {:<28}  {:<39}  {}{}",
                    session.public_id,
                    format_utc(session.created_at),
                    format_utc(session.last_seen),
                    ends,
                    address,
                    user_agent::describe(&session.user_agent),
                    if session.remembered {
                        " (remembered)"
                    } else {
                        ""
                    }
                )?;
            }
        }
        UsersCommand::Logout { name } => {
            let name = username(&name)?;
            let id = account_id(db, &name).await?;
            let ended = sessions::end_all(db, &id.to_string()).await?;
            let plural = if ended == 1 { "" } else { "s" };
            writeln!(out, "ended {ended} session{plural} of {name}")?;
        }
        UsersCommand::Tokens { name, revoke } => {
            let name = username(&name)?;
            let id = account_id(db, &name).await?.to_string();
            if let Some(revoke) = revoke {
                let token = PublicId::parse(&revoke)
                    .ok_or_else(|| Failure(format!("{revoke:?} is not a token id")))?;
                if !tokens::revoke(db, &id, &token).await? {
                    return Err(Failure(format!("{name} has no token {token}")));
                }
                writeln!(out, "revoked token {token} of {name}")?;
            } else {
                writeln!(
                    out,
                    "{:<32}  {:<20}  {:<20}  {:<28}  name",
                    "token", "created", "last used", "expires"
                )?;
                // Expired ones too, marked: they are refused, and pruned later.
                let now = Clock::system().now();
                for token in tokens::list(db, &id, i64::MIN).await? {
                    let expires = match token.expires_at {
                        None => "never".to_string(),
                        Some(at) if at > now => format_utc(at),
                        Some(at) => format!("{} (ended)", format_utc(at)),
                    };
                    writeln!(
                        out,
                        "{:<32}  {:<20}  {:<20}  {:<28}  {}",
                        token.public_id,
                        format_utc(token.created_at),
                        token.last_used.map_or_else(|| "never".into(), format_utc),
                        expires,
                        token.name
                    )?;
                }
            }
        }
        UsersCommand::History { name, limit } => {
            let name = username(&name)?;
            let id = account_id(db, &name).await?;
            writeln!(
                out,
                "{:<20}  {:<28}  {:<39}  browser",
                "when", "what", "address"
            )?;
            for entry in attempts::history(db, &id.to_string(), &attempts::ALL, limit).await? {
                writeln!(
                    out,
                    "{:<20}  {:<28}  {:<39}  {}",
                    format_utc(entry.at),
                    entry.outcome_text,
                    entry.client_ip.as_deref().unwrap_or("-"),
                    entry.user_agent.as_deref().unwrap_or("-")
                )?;
            }
        }
        UsersCommand::Prune => {
            let settings = rocket
                .state::<Settings>()
                .ok_or_else(|| Failure("no settings".into()))?;
            let pruned = retention::prune(db, settings, Clock::system().now()).await?;
            let n = pruned.login_attempts;
            let plural = if n == 1 { "" } else { "s" };
            writeln!(
                out,
                "pruned {n} login attempt{plural} older than {} days",
                settings.history_days
            )?;
            let n = pruned.sessions;
            let plural = if n == 1 { "" } else { "s" };
            writeln!(out, "pruned {n} expired session{plural}")?;
            let n = pruned.tokens;
            let plural = if n == 1 { "" } else { "s" };
            writeln!(out, "pruned {n} expired API token{plural}")?;
        }
    }
    print!("{out}");
    Ok(())
}
