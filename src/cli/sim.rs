//! `sim`: a local Graph API simulator, until Ctrl-C.

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::app::shutdown_signal;
use wa_onboard::config::Env;
use wa_onboard::sim;

pub(crate) async fn run(
    env: &Env,
    bind: std::net::SocketAddr,
    status_webhook: Option<String>,
) -> anyhow::Result<ExitCode> {
    let status_webhook = match status_webhook {
        Some(url) => {
            let Some(secret) = env.get("WHATSAPP_APP_SECRET") else {
                anyhow::bail!("--status-webhook signs each status with WHATSAPP_APP_SECRET, which is not set");
            };
            Some(sim::StatusWebhook { url, app_secret: secret.to_owned() })
        }
        None => None,
    };
    let config = sim::SimConfig {
        access_token: env.get("WHATSAPP_ACCESS_TOKEN").unwrap_or(sim::SIM_ACCESS_TOKEN).to_owned(),
        phone_number_id: env.get("WHATSAPP_PHONE_NUMBER_ID").map(str::to_owned),
        status_webhook: status_webhook.clone(),
        ..sim::SimConfig::default()
    };
    let token_is_default = config.access_token == sim::SIM_ACCESS_TOKEN;
    let handle = sim::Simulator::start_with(config, bind).await.with_context(|| format!("cannot listen on {bind}"))?;
    println!("Graph API simulator on {}", handle.base_url);
    println!("  GRAPH_API_URL={}", handle.base_url);
    if token_is_default {
        println!("  WHATSAPP_ACCESS_TOKEN={}", sim::SIM_ACCESS_TOKEN);
    } else {
        println!("  bearer token: the WHATSAPP_ACCESS_TOKEN of this environment");
    }
    println!("  sent messages: GET {}/messages", handle.base_url);
    if let Some(webhook) = &status_webhook {
        println!("  status webhooks: POST {} (signed with WHATSAPP_APP_SECRET)", webhook.url);
    }
    shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}
