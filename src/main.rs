use std::process::ExitCode;

use clap::Parser;
use wristband_app::cli::{self, Cli, Command};

#[rocket::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        None | Some(Command::Serve) => serve().await,
        Some(Command::Users(command)) => cli::run_users(command).await,
    }
}

async fn serve() -> ExitCode {
    match wristband_app::rocket().launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            // Rocket has already logged the cause (bad config, unreachable
            // database); end with one line and a failing status, not a panic.
            eprintln!("wristband did not start: {e}");
            ExitCode::FAILURE
        }
    }
}
