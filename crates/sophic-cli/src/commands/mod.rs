//! One function per command.

pub mod demo;
pub mod orders;
pub mod sandbox;
pub mod webhooks;

use std::str::FromStr;

use futures::{StreamExt, TryStreamExt};
use sophic::types::EventName;

use crate::args::{Command, EventsArgs, InstrumentsCommand, PositionsArgs, PositionsCommand};
use crate::failure::Failure;
use crate::output::Output;
use crate::target::Target;

/// Runs a command that talks to the API.
pub async fn dispatch(command: Command, target: &Target, out: &Output) -> Result<(), Failure> {
    match command {
        Command::Orders(command) => orders::run(command, target, out).await,
        Command::Instruments(command) => instruments(command, target, out).await,
        Command::Balances => {
            let balances = target
                .client
                .account(target.account()?)
                .cash_balances()
                .await?;
            out.show(&balances, || out.balances(&balances));
            Ok(())
        }
        Command::Positions(PositionsArgs { action: None }) => {
            let positions = target.client.account(target.account()?).positions().await?;
            out.show(&positions, || out.positions(&positions));
            Ok(())
        }
        Command::Positions(PositionsArgs {
            action: Some(PositionsCommand::Rollover { position, switch }),
        }) => {
            let account = target.client.account(target.account()?);
            let changed = account
                .set_automatic_rollover(&position, switch == "on")
                .await?;
            let list = std::slice::from_ref(&changed);
            out.show(&changed, || out.positions(list));
            Ok(())
        }
        Command::Events(args) => events(args, target, out).await,
        Command::Webhooks(command) => webhooks::run(command, target, out).await,
        Command::Demo(args) if args.rollover => demo::rollover(target, out).await,
        Command::Demo(_) => demo::run(target, out).await,
        Command::Sandbox(_) | Command::Completions { .. } => unreachable!("run before connecting"),
    }
}

/// Parses a flag's value, or fails as a usage error naming the flag.
pub fn parse<T: FromStr>(flag: &str, value: &str) -> Result<T, Failure>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| Failure::usage(format!("{flag}: {e}")))
}

async fn instruments(
    command: InstrumentsCommand,
    target: &Target,
    out: &Output,
) -> Result<(), Failure> {
    match command {
        InstrumentsCommand::List => {
            let instruments = target.client.instruments().list().await?;
            out.show(&instruments, || out.instruments(&instruments));
        }
        InstrumentsCommand::Get { instrument } => {
            let id = parse("instrument", &instrument)?;
            let instrument = target.client.instruments().get(&id).await?;
            out.show(&instrument, || out.instrument(&instrument));
        }
    }
    Ok(())
}

async fn events(args: EventsArgs, target: &Target, out: &Output) -> Result<(), Failure> {
    let mut list = target.client.events().list();
    if let Some(name) = &args.name {
        list = list.name(parse::<EventName>("--name", name)?);
    }
    if let Some(resource) = &args.resource {
        list = list.resource(resource);
    }
    let events: Vec<_> = list.stream().take(args.limit).try_collect().await?;
    out.show(&events, || out.events(&events));
    Ok(())
}
