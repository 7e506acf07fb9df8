//! The `roomcast` command line: `serve` (the default), `migrate`, `user add NAME [--admin]`,
//! `config`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::auth::password;
use crate::config::Settings;
use crate::db::{self, users};
use crate::domain::{Password, Username};
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(name = "roomcast", version, about = "Self-hosted live video platform")]
pub struct Cli {
    /// TOML configuration file (default: ./roomcast.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration (defaults, file, environment) as JSON, with
    /// passwords in URLs hidden, and exit; fails on an invalid setting.
    Config,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is read from the terminal, or from
    /// ROOMCAST_PASSWORD (else the first line of stdin) when stdin is not a terminal.
    Add {
        name: String,
        /// Give the account the admin role.
        #[arg(long)]
        admin: bool,
    },
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        let settings = Settings::load(self.config.as_deref())?;
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings),
            Command::Migrate => migrate(&settings),
            Command::Config => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&settings.redacted_json())?
                );
                Ok(())
            }
            Command::User {
                command: UserCommand::Add { name, admin },
            } => add_user(&settings, &name, admin),
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await.context("serving HTTP")
    })
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let pool = db::connect(&settings.database)?;
    let applied = db::run_migrations(&mut *pool.get()?)
        .with_context(|| format!("database {}", settings.database.url.redacted()))?;
    println!(
        "applied {applied} migrations to {}",
        settings.database.url.redacted()
    );
    Ok(())
}

fn add_user(settings: &Settings, name: &str, admin: bool) -> anyhow::Result<()> {
    let username = Username::parse(name).map_err(|e| anyhow::anyhow!("{name:?}: {e}"))?;
    let password = Password::parse(read_password(name)?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = db::connect(&settings.database)?;
    let mut conn = pool.get()?;
    db::run_migrations(&mut conn)?;
    let hash = password::hash(&password)?;
    let role = if admin { "admin" } else { "user" };
    let inserted = users::create(&mut conn, username.as_str(), &hash, role);
    match inserted.map_err(db::DbError::from) {
        Ok(id) => {
            println!("created {role} {username} ({id})");
            Ok(())
        }
        Err(e) if db::is_unique_violation(&e) => anyhow::bail!("user {username} already exists"),
        Err(e) => Err(e).context("creating the user"),
    }
}

fn read_password(name: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(format!("password for {name}: "))
            .context("reading the password from the terminal");
    }
    if let Ok(password) = std::env::var("ROOMCAST_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
