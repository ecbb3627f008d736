//! `sophic`: the Sophic Orders API from a terminal.
//!
//! With no base URL and no credentials configured it starts the sandbox in-process and
//! says so on stderr; it never talks to production without credentials.

mod args;
mod commands;
mod failure;
mod output;
mod profiles;
mod target;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use failure::Failure;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json, cli.no_color);
    match run(cli, &out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report(&out);
            failure.exit_code()
        }
    }
}

async fn run(cli: Cli, out: &output::Output) -> Result<(), Failure> {
    match cli.command {
        Command::Sandbox(args::SandboxArgs {
            action: Some(action),
            ..
        }) => {
            let connection = profiles::apply(cli.connection)?;
            commands::sandbox::control(action, &connection, out).await
        }
        Command::Sandbox(args) => commands::sandbox::serve(args.serve).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "sophic", &mut std::io::stdout());
            Ok(())
        }
        Command::Webhooks(args::WebhooksCommand::Verify(verify)) => {
            commands::webhooks::verify(&verify, out)
        }
        command => {
            // The demo runs on a fresh sandbox: it moves the clock by months.
            let local = match command {
                Command::Demo(_) => target::Local::Fresh,
                _ => target::Local::Kept,
            };
            // Only a command that connects reads the profile (a completion script or the
            // server never runs a profile's token command).
            let connection = profiles::apply(cli.connection)?;
            let target = target::Target::connect(&connection, local).await?;
            commands::dispatch(command, &target, out).await
        }
    }
}
