//! The `wa-onboard` command line: parses the command, sets up logging and runs the command's body (in [`cli`]).

use std::process::ExitCode;

use clap::Parser as _;

use wa_onboard::config::{Config, Env};
use wa_onboard::telemetry;

mod cli;

/// See Cargo.toml: measured on the webhook ingress.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cli::{
    AgentsCommand, ApiTokensCommand, AuditCommand, Cli, Command, JobsCommand, ReportCommand, check_image::DocumentArgs,
};

#[tokio::main]
async fn main() -> ExitCode {
    let env = Env::from_process();
    telemetry::init(Config::log_format_from(&env));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { dev, no_workers, allow_memory_store } => {
            cli::serve::serve(&env, dev, no_workers, allow_memory_store).await
        }
        Command::Worker => cli::serve::worker(&env).await,
        Command::Audit { command: AuditCommand::Show { user, phone_number_id, limit } } => {
            cli::audit::show(&env, &user, phone_number_id, limit).await
        }
        Command::Audit { command: AuditCommand::Verify { user, phone_number_id } } => {
            cli::audit::verify(&env, &user, phone_number_id).await
        }
        Command::Erase { user, phone_number_id, by } => {
            let by = by.or_else(|| env.get("USER").map(str::to_owned)).unwrap_or_else(|| "cli".into());
            cli::privacy::erase(&env, &user, phone_number_id, &by).await
        }
        Command::Export { user, phone_number_id, photos } => {
            cli::privacy::export(&env, &user, phone_number_id, photos).await
        }
        Command::Report { command: ReportCommand::Funnel { since, until, flow, format } } => {
            cli::report::funnel(&env, Some(&since), until.as_deref(), flow, format).await
        }
        Command::Replay { path, url } => cli::replay::run(&env, &path, url).await,
        Command::Agents { command: AgentsCommand::Add { email, name, role } } => {
            cli::agents::add(&env, &email, &name, &role).await
        }
        Command::Agents { command: AgentsCommand::List } => cli::agents::list(&env).await,
        Command::Agents { command: AgentsCommand::Disable { email } } => {
            cli::agents::set_disabled(&env, &email, true).await
        }
        Command::Agents { command: AgentsCommand::Enable { email } } => {
            cli::agents::set_disabled(&env, &email, false).await
        }
        Command::ApiTokens { command: ApiTokensCommand::Add { name } } => cli::api_tokens::add(&env, &name).await,
        Command::ApiTokens { command: ApiTokensCommand::List } => cli::api_tokens::list(&env).await,
        Command::ApiTokens { command: ApiTokensCommand::Revoke { name } } => cli::api_tokens::revoke(&env, &name).await,
        Command::Jobs { command: JobsCommand::Dead { queue, limit } } => {
            cli::jobs::dead(&env, queue.as_deref(), limit).await
        }
        Command::Jobs { command: JobsCommand::Retry { id, all, queue } } => {
            cli::jobs::retry(&env, id.as_deref(), all, queue.as_deref()).await
        }
        Command::Kept { limit } => cli::kept::run(&env, limit).await,
        Command::Flow { command } => cli::flow::run(&env, command),
        Command::Sim { bind, status_webhook } => cli::sim::run(&env, bind, status_webhook).await,
        Command::CheckImage { file, kind, flow, document, side, mrz_text } => {
            let reading = DocumentArgs { document, side, mrz_text };
            cli::check_image::run(&env, &file, kind, flow.as_deref(), reading).await
        }
        Command::Demo => cli::demo::run().await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
