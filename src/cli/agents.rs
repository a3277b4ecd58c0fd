//! `agents add EMAIL --name NAME --role agent|supervisor | list | disable EMAIL | enable EMAIL`: the console's
//! accounts. The password is read from standard input (one line), or asked for without echo at a terminal; only
//! its argon2id hash is stored.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use wa_onboard::config::{Config, Env, StoreConfig};
use wa_onboard::console::password;
use wa_onboard::console::session::normalize_email;
use wa_onboard::store::agents::{AgentAccount, AgentStore, Role};

async fn store(env: &Env) -> anyhow::Result<std::sync::Arc<dyn AgentStore>> {
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!(
            "REDIS_URL is not set: accounts must be kept where every server process can check them \
             (`serve --dev` makes its own development agent)"
        );
    }
    let backend = wa_onboard::store::Backend::for_config(&config).await?;
    Ok(backend.agents())
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("the same password again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ: nothing was changed");
        }
        first
    } else {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    Ok(password)
}

pub(crate) async fn add(env: &Env, email: &str, name: &str, role: &str) -> anyhow::Result<ExitCode> {
    let email = normalize_email(email);
    if !email.contains('@') || email.contains(char::is_whitespace) {
        anyhow::bail!("`{email}` is not an email address");
    }
    let Some(role) = Role::parse(role) else {
        anyhow::bail!("--role is `agent` or `supervisor`, not `{role}`");
    };
    let store = store(env).await?;
    if store.get(&email).await?.is_some() {
        anyhow::bail!("an account for {email} exists already");
    }
    let hash = password::hash(&read_password()?)?;
    let account = AgentAccount {
        email: email.clone(),
        name: name.trim().to_owned(),
        role,
        password_hash: hash,
        disabled: false,
        created_at: wa_onboard::clock::system().now_secs(),
    };
    if !store.add(&account).await? {
        anyhow::bail!("an account for {email} exists already");
    }
    println!("{email} can sign in to /console/ as {}", role.as_str());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list(env: &Env) -> anyhow::Result<ExitCode> {
    for account in store(env).await?.list().await? {
        let state = if account.disabled { "disabled" } else { "active" };
        println!("{}\t{}\t{}\t{state}", account.email, account.name, account.role.as_str());
    }
    Ok(ExitCode::SUCCESS)
}

/// Disables (or enables again) an account; a disabled agent's sessions stop working at their next request.
pub(crate) async fn set_disabled(env: &Env, email: &str, disabled: bool) -> anyhow::Result<ExitCode> {
    let email = normalize_email(email);
    let store = store(env).await?;
    let Some(mut account) = store.get(&email).await? else {
        eprintln!("no account for {email} (see `wa-onboard agents list`)");
        return Ok(ExitCode::FAILURE);
    };
    account.disabled = disabled;
    store.update(&account).await?;
    println!("{email} {}", if disabled { "disabled: signed out everywhere" } else { "enabled" });
    Ok(ExitCode::SUCCESS)
}
