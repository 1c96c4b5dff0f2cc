//! The `gloss` binary: reads the settings, picks the database engine, and runs one
//! command (the web server, or an administration task on the same database).
//!
//! This is the only crate that composes the others and the only one that uses
//! `anyhow`. Every command reads the same settings, so `gloss post publish` run next to
//! `gloss serve` writes to the database the server reads.

mod front_matter;
mod import;
mod posts;
mod serve;
mod settings;
mod telemetry;
mod users;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Gloss: a self-hosted blog whose comments come from the fediverse.
///
/// Settings come from gloss.toml (or --config FILE) and GLOSS_* environment variables;
/// `gloss config` shows them.
#[derive(Debug, Parser)]
#[command(
    name = "gloss",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Settings file (TOML). Without it, gloss.toml in the working directory is read
    /// when it exists.
    #[arg(long, global = true, value_name = "FILE", env = settings::CONFIG_ENV)]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the blog's web server until SIGINT or SIGTERM.
    ///
    /// Creates and migrates the database on first start. While no author exists, logs a
    /// one-time link that creates the first (admin) author in the browser.
    Serve,
    /// Print the settings in effect as TOML, with secrets redacted.
    Config,
    /// Manage authors.
    #[command(subcommand, arg_required_else_help = true)]
    User(UserCommand),
    /// Publish and delete posts.
    #[command(subcommand, arg_required_else_help = true)]
    Post(PostCommand),
    /// Import posts and comments from another blog.
    #[command(subcommand, arg_required_else_help = true)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an author and print a generated password once.
    Add(UserAddArgs),
}

/// Arguments of `gloss user add`.
#[derive(Debug, Args)]
struct UserAddArgs {
    /// Login and handle: 1 to 32 lower-case letters, digits or underscores.
    username: String,
    /// The name shown on posts (default: the username).
    #[arg(long, value_name = "NAME")]
    display_name: Option<String>,
    /// Let the author manage the blog (settings, other authors' posts, comments).
    #[arg(long)]
    admin: bool,
    /// Read the password from the first line of standard input instead of generating
    /// one (at least 10 characters).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum PostCommand {
    /// Publish a Markdown file with front matter, or update the post with its slug.
    ///
    /// The file starts with YAML front matter between two '---' lines (or TOML between
    /// '+++' lines): title (required), slug, date, tags, summary, author, draft.
    /// Prints the post's public URL.
    Publish {
        /// The Markdown file.
        file: PathBuf,
    },
    /// Delete a post; its address answers 410 Gone from then on.
    Delete {
        /// The post's slug (the last part of its URL).
        slug: String,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a WordPress export (WXR file): posts, tags, authors and comments.
    ///
    /// Running it again with the same file changes nothing.
    Wxr {
        /// The .xml file from WordPress's Tools > Export.
        file: PathBuf,
    },
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The settings, arguments or input file cannot be used; nothing was done. Exit 2.
    Usage(String),
    /// Something went wrong while doing it. Exit 1.
    Runtime(anyhow::Error),
}

impl Failure {
    /// A usage failure with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    /// A runtime failure with this message.
    pub fn runtime(message: impl std::fmt::Display) -> Self {
        Failure::Runtime(anyhow::anyhow!("{message}"))
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure::Runtime(err.into())
    }
}

const EXIT_RUNTIME: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // Clap prints its own errors and exits with 2 (usage) or 0 (--help, --version).
    let cli = Cli::parse();

    // Everything is validated before anything is written or even connected to.
    let loaded = match settings::load(cli.config.as_deref(), std::env::vars_os()) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Command::Config = cli.command {
        print!("{}", loaded.to_toml());
        return ExitCode::SUCCESS;
    }

    telemetry::init(&loaded.settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let result = runtime.block_on(run(cli.command, loaded.settings));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(err)) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

async fn run(command: Command, settings: settings::Settings) -> Result<(), Failure> {
    match command {
        Command::Serve => Box::pin(serve::run(&settings)).await,
        Command::Config => Ok(()),
        Command::User(UserCommand::Add(args)) => {
            users::add(
                &settings,
                users::AddUser {
                    username: args.username,
                    display_name: args.display_name,
                    admin: args.admin,
                    password_stdin: args.password_stdin,
                },
            )
            .await
        }
        Command::Post(PostCommand::Publish { file }) => posts::publish(&settings, &file).await,
        Command::Post(PostCommand::Delete { slug }) => posts::delete(&settings, &slug).await,
        Command::Import(ImportCommand::Wxr { file }) => import::wxr(&settings, &file).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
