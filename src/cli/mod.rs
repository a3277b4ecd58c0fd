//! The commands of `wa-onboard`: their definitions (arguments, flags, help texts) here, each command's body in its
//! own file. `main` parses, sets up logging and calls the body.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub(crate) mod agents;
pub(crate) mod api_tokens;
pub(crate) mod audit;
pub(crate) mod check_image;
pub(crate) mod demo;
pub(crate) mod flow;
pub(crate) mod jobs;
pub(crate) mod kept;
pub(crate) mod privacy;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod serve;
pub(crate) mod sim;

#[derive(Parser)]
#[command(name = "wa-onboard", version, about = "Identity verification (KYC) inside a WhatsApp chat")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP service (webhook, health, metrics).
    Serve {
        /// Development mode: loopback only, with a fixed development app secret and verify token when none is set.
        #[arg(long)]
        dev: bool,
        /// Serve HTTP only; run the workers in separate `wa-onboard worker` processes (Redis only).
        #[arg(long)]
        no_workers: bool,
        /// Production without REDIS_URL, for a one-process trial: everything is lost on restart.
        #[arg(long)]
        allow_memory_store: bool,
    },
    /// Run the workers only (conversation runner, sends, verifications, scheduled events). Needs REDIS_URL.
    Worker,
    /// Read a user's audit trail, or check that its hash chain holds (Redis).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Erase everything held about a user (state, messages, photos, cases, queued jobs, kept payloads) and print
    /// the receipt; a tombstone without personal data stays per conversation (Redis).
    Erase {
        /// The user: phone number or business-scoped user id.
        user: String,
        /// The business phone number id [default: WHATSAPP_PHONE_NUMBER_ID].
        #[arg(long)]
        phone_number_id: Option<String>,
        /// Who asks, recorded in the tombstones as `operator:<by>` [default: $USER].
        #[arg(long)]
        by: Option<String>,
    },
    /// Print everything held about a user as one JSON document: an access request (Redis).
    Export {
        /// The user: phone number or business-scoped user id.
        user: String,
        /// The business phone number id [default: WHATSAPP_PHONE_NUMBER_ID].
        #[arg(long)]
        phone_number_id: Option<String>,
        /// Include the photos themselves (base64).
        #[arg(long)]
        photos: bool,
    },
    /// Reports computed from the stored conversations, with no Prometheus needed (Redis).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Sign webhook fixtures with WHATSAPP_APP_SECRET (or the development secret) and POST them to a server.
    Replay {
        /// A JSON file, or a folder of them.
        path: PathBuf,
        /// The webhook URL [default: http://BIND_ADDR/webhook].
        #[arg(long)]
        url: Option<String>,
    },
    /// Check, draw, describe and test flow files.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// Make, list and disable the agent console's accounts (Redis).
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Make, list and revoke the bearer tokens of /api/v1 (Redis).
    ApiTokens {
        #[command(subcommand)]
        command: ApiTokensCommand,
    },
    /// List and put back the jobs the queues gave up on (Redis).
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Print the payloads kept for inspection (signed but unreadable bodies, other fields), newest first.
    Kept {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Run a local Graph API simulator: serves media, records sent messages, fails on demand (see docs/whatsapp.md).
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: std::net::SocketAddr,
        /// Send a signed `sent` status webhook for each accepted message to this URL (the service's `/webhook`),
        /// signed with WHATSAPP_APP_SECRET, as Meta does.
        #[arg(long)]
        status_webhook: Option<String>,
    },
    /// Show the whole path in one process: one user verified, another who sends blurry photos and gets a live agent.
    Demo,
    /// Run the local photo quality checks on a file and print one JSON object: verdict, reasons, measurements.
    /// Exits 0 whenever the check ran, whatever the verdict.
    CheckImage {
        /// A photo (JPEG, PNG or WebP; anything else is reported as `unreadable_file`).
        file: PathBuf,
        /// What the photo should show.
        #[arg(long, value_enum, default_value_t = KindArg::Document)]
        kind: KindArg,
        /// Use the quality thresholds of this flow (an id in FLOWS_DIR, or a file) instead of the defaults.
        #[arg(long)]
        flow: Option<String>,
        /// Also read the document's barcodes and MRZ as this type (mx_ine, co_cedula, pe_dni, ar_dni, cl_cedula,
        /// br_rg, br_cnh, passport).
        #[arg(long)]
        document: Option<String>,
        /// The side of the document in the photo.
        #[arg(long, default_value = "front")]
        side: String,
        /// The machine-readable zone as text (from an OCR or typed), parsed and checked with the barcodes.
        #[arg(long)]
        mrz_text: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Print a user's audit trail, oldest first, one JSON record a line.
    Show {
        /// The user: phone number or business-scoped user id.
        user: String,
        /// The business phone number id [default: WHATSAPP_PHONE_NUMBER_ID].
        #[arg(long)]
        phone_number_id: Option<String>,
        /// The newest records to print.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Check each record's hash and link to the one before; exits 1 when a record was changed, reordered or
    /// removed.
    Verify {
        user: String,
        #[arg(long)]
        phone_number_id: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum ReportCommand {
    /// The onboarding funnel of the conversations started in a period: per step how many reached it and left
    /// there, outcomes, time to outcome, retakes, handoffs, the queue and each agent's decisions.
    Funnel {
        /// The period's start: a duration ago (7d, 24h, 90m), a date (2026-11-01), a date and time, or Unix seconds.
        #[arg(long, default_value = "7d")]
        since: String,
        /// The period's end (excluded), written the same way [default: now].
        #[arg(long)]
        until: Option<String>,
        /// Only this flow's conversations.
        #[arg(long)]
        flow: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: wa_onboard::funnel::render::Format,
    },
}

#[derive(Subcommand)]
pub(crate) enum AgentsCommand {
    /// Make an account; the password is read from standard input (asked for without echo at a terminal).
    Add {
        email: String,
        #[arg(long)]
        name: String,
        /// `agent` or `supervisor` (who may also reassign cases).
        #[arg(long, default_value = "agent")]
        role: String,
    },
    /// The accounts: email, name, role, active or disabled.
    List,
    /// Disable an account: its sessions stop at their next request.
    Disable { email: String },
    /// Enable a disabled account again.
    Enable { email: String },
}

#[derive(Subcommand)]
pub(crate) enum ApiTokensCommand {
    /// Make a token and print it (once; only its hash is kept).
    Add { name: String },
    /// The tokens' names and when they were made.
    List,
    /// Revoke a token: calls with it get 401 at once.
    Revoke { name: String },
}

#[derive(Subcommand)]
pub(crate) enum JobsCommand {
    /// Print the dead jobs (id, queue, attempts, when, last error), one JSON object a line.
    Dead {
        /// Only this queue (inbound, events, outbound, verify, notify).
        #[arg(long)]
        queue: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put a dead job back in its queue (it starts again from its first try), or all of them with --all.
    Retry {
        /// The job id, as `jobs dead` prints it.
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum FlowCommand {
    /// Load every flow and report every problem with file:line and a hint; exits non-zero on any error.
    Check {
        /// A flow file or a folder of them [default: FLOWS_DIR or flows/].
        path: Option<PathBuf>,
    },
    /// Print the JSON Schema of the flow format (for editor validation and completion).
    Schema,
    /// Print a flow as a diagram.
    Graph {
        /// The flow id or file.
        flow: String,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: wa_onboard::flow::graph::Format,
    },
    /// Run the conversation scenarios against the engine and show a readable diff on failure.
    Test {
        /// A scenario file or a folder of them [default: fixtures/scenarios].
        path: Option<PathBuf>,
        /// Where the flows are [default: FLOWS_DIR or flows/].
        #[arg(long)]
        flows: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    Document,
    Selfie,
}
