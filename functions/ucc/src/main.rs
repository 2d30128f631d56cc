//! `ucc`: the operator CLI and local runtime of the Utility Cloud Connector.
//!
//! Every command works on the store named by `--store` / `UCC_STORE` (a file path selects
//! the embedded store, `dynamodb://TABLE` DynamoDB). Errors print one line on stderr and exit 1.

mod cmd;
mod output;
mod price;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ucc",
    version,
    about = "Utility Cloud Connector: operator CLI and local runtime"
)]
struct Cli {
    /// Store: a file path (embedded store) or dynamodb://TABLE.
    #[arg(long, global = true, env = "UCC_STORE", default_value = ucc_functions::env::DEFAULT_STORE)]
    store: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Price an OCPI CDR or a session-completed event against an OCPI 2.2.1 tariff.
    Price(price::PriceArgs),
    /// Create, show and list tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// List a tenant's drivers.
    #[command(subcommand)]
    Drivers(DriversCmd),
    /// Show one driver.
    #[command(subcommand)]
    Driver(DriverCmd),
    /// Parked messages: the connector's dead-letter store.
    #[command(subcommand)]
    Parked(ParkedCmd),
    /// Request log of a tenant, newest first.
    Logs(cmd::logs::LogsArgs),
    /// Run all functions in one process as an Azure Functions custom handler.
    Serve(cmd::serve::ServeArgs),
    /// Deliveries to Utility Cloud.
    #[command(subcommand)]
    Deliveries(DeliveriesCmd),
    /// Service Bus intake over the REST API (UCC_SERVICEBUS_* variables, SPEC §10).
    #[command(subcommand)]
    Servicebus(ServicebusCmd),
    /// Credit a delivered transaction in full (new transaction <id>-C<n>).
    Credit {
        transaction_id: String,
        #[arg(long)]
        reason: Option<String>,
        /// Needed only when the id exists in more than one tenant.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Credit a delivered transaction and deliver it re-priced (<id>-C<n> then <id>-R<n>).
    Correct {
        transaction_id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Type A → B migration: the shadow-pricing report.
    #[command(subcommand)]
    Migration(MigrationCmd),
    /// Revenue-share reconciliation entries of a tenant.
    Reconcile {
        #[arg(long)]
        tenant: String,
        /// RFC 3339 time or an age such as 7d.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Day-ahead spot prices and ECB rates (SPEC §13).
    #[command(subcommand)]
    Spot(cmd::spot::SpotCmd),
    /// Load DIR/tenants/*.json, process DIR/events/*.json in file-name order, print a report.
    RunScenario {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        /// Deliver to a local UC + Entra stand-in started for this run instead of the
        /// tenants' real endpoints.
        #[arg(long)]
        uc_standin: bool,
    },
}

#[derive(Subcommand)]
enum MigrationCmd {
    /// What costed transactions would have billed for the meter-value sessions delivered
    /// while a migration is scheduled (shadow pricing; nothing of it is sent).
    Report {
        gln: String,
        /// Only sessions that ended since: an age such as 30d, or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV for finance: the same columns as --json.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Subcommand)]
enum ServicebusCmd {
    /// Receive contract events from the subscription (peek-lock) and handle them.
    Pull {
        /// Stop after SECONDS (default: until Ctrl-C); in-flight messages are settled.
        #[arg(long = "for", value_name = "SECONDS")]
        for_secs: Option<u64>,
    },
}

#[derive(Subcommand)]
enum DeliveriesCmd {
    /// List a tenant's deliveries, oldest first.
    List {
        #[arg(long)]
        tenant: String,
        /// pending, delivered or rejected.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Attempt a delivery now (a rejected one goes back to pending after you fixed the cause).
    Retry {
        id: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create or replace a tenant from a JSON config file.
    Put { file: PathBuf },
    /// Show a tenant's configuration.
    Get {
        gln: String,
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Connection status, last delivery, pending/rejected/parked counts, masked API key.
    Status {
        gln: String,
        #[arg(long)]
        json: bool,
    },
    /// Schedule (--to costedTransaction --cutover RFC3339) or --cancel a Type A → B
    /// migration: sessions ending at or after the cutover go as costed transactions.
    Migrate {
        gln: String,
        #[arg(long, required_unless_present = "cancel", conflicts_with = "cancel")]
        to: Option<String>,
        #[arg(long, required_unless_present = "cancel", conflicts_with = "cancel")]
        cutover: Option<String>,
        /// Withdraw the scheduled migration (only before its cutover).
        #[arg(long)]
        cancel: bool,
        #[arg(long)]
        json: bool,
    },
    /// The API key Utility Cloud uses to call the admin API.
    #[command(subcommand)]
    ApiKey(ApiKeyCmd),
    /// Advanced settings: site and product mapping, virtual token prefix, accounting point
    /// pattern, topic, tariffs, revenue-share sites, log retention.
    #[command(subcommand)]
    Settings(SettingsCmd),
}

#[derive(Subcommand)]
enum ApiKeyCmd {
    /// Issue a new key (printed once; only its hash is stored) and revoke the old one.
    Rotate {
        gln: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum SettingsCmd {
    /// Show the advanced settings.
    Get {
        gln: String,
        #[arg(long)]
        json: bool,
    },
    /// Change settings from a JSON object (FILE, else stdin): given fields replace the
    /// stored ones, null resets one to its default; validated like `ucc tenant put`.
    Put {
        gln: String,
        file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DriversCmd {
    /// List the drivers of a tenant.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DriverCmd {
    /// Show one driver by accounting point id.
    Get {
        #[arg(long)]
        tenant: String,
        accounting_point: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ParkedCmd {
    /// List parked messages of a tenant, or those with no usable tenant.
    List(ParkedScope),
    /// Show one parked message with its raw body and properties.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Re-run a parked message with the current configuration.
    Replay {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ParkedScope {
    #[arg(
        long,
        required_unless_present = "unrouted",
        conflicts_with = "unrouted"
    )]
    tenant: Option<String>,
    /// Messages whose tenant could not be determined.
    #[arg(long)]
    unrouted: bool,
    #[arg(long)]
    json: bool,
}

/// `ucc price`: `--tenant GLN` reads the tenant from the store; a file path is read by
/// the pricing command itself.
async fn price_command(store: &str, args: &price::PriceArgs) -> ExitCode {
    let spot = |need: &ucc_shared::spot::SpotNeed| cmd::spot::fetch_blocking(store, need);
    let Some(spec) = args.tenant.as_deref() else {
        return price::run(args, &spot);
    };
    if std::path::Path::new(spec).exists() || ucc_shared::gln::Gln::parse(spec).is_err() {
        return price::run(args, &spot);
    }
    match cmd::tenant::pricing(store, spec).await {
        Ok(t) => price::run_with_tenant(args, Some(t), &spot),
        Err(e) => output::fail(format!("--tenant {spec}: {e}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return output::fail(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let store = cli.store;
    let result = match cli.command {
        Command::Price(args) => return price_command(&store, &args).await,
        Command::Tenant(TenantCmd::Put { file }) => cmd::tenant::put(&store, &file).await,
        Command::Tenant(TenantCmd::Get { gln, json }) => cmd::tenant::get(&store, &gln, json).await,
        Command::Tenant(TenantCmd::List { json }) => cmd::tenant::list(&store, json).await,
        Command::Tenant(TenantCmd::Status { gln, json }) => {
            cmd::admin::status(&store, &gln, json).await
        }
        Command::Tenant(TenantCmd::ApiKey(ApiKeyCmd::Rotate { gln, json })) => {
            cmd::admin::rotate_key(&store, &gln, json).await
        }
        Command::Tenant(TenantCmd::Settings(SettingsCmd::Get { gln, json })) => {
            cmd::admin::settings_get(&store, &gln, json).await
        }
        Command::Tenant(TenantCmd::Settings(SettingsCmd::Put { gln, file, json })) => {
            cmd::admin::settings_put(&store, &gln, file.as_deref(), json).await
        }
        Command::Tenant(TenantCmd::Migrate {
            gln,
            to,
            cutover,
            cancel,
            json,
        }) => {
            cmd::migration::migrate(
                &store,
                &gln,
                to.as_deref(),
                cutover.as_deref(),
                cancel,
                json,
            )
            .await
        }
        Command::Migration(MigrationCmd::Report {
            gln,
            since,
            json,
            csv,
        }) => {
            let format = match (json, csv) {
                (true, _) => cmd::migration::Format::Json,
                (false, true) => cmd::migration::Format::Csv,
                (false, false) => cmd::migration::Format::Table,
            };
            cmd::migration::report(&store, &gln, since.as_deref(), format).await
        }
        Command::Drivers(DriversCmd::List { tenant, json }) => {
            cmd::drivers::list(&store, &tenant, json).await
        }
        Command::Driver(DriverCmd::Get {
            tenant,
            accounting_point,
            json,
        }) => cmd::drivers::get(&store, &tenant, &accounting_point, json).await,
        Command::Parked(ParkedCmd::List(scope)) => {
            cmd::parked::list(&store, scope.tenant.as_deref(), scope.json).await
        }
        Command::Parked(ParkedCmd::Show { id, json }) => cmd::parked::show(&store, &id, json).await,
        Command::Parked(ParkedCmd::Replay { id, json }) => {
            cmd::parked::replay(&store, &id, json).await
        }
        Command::Deliveries(DeliveriesCmd::List {
            tenant,
            state,
            json,
        }) => cmd::deliveries::list(&store, &tenant, state.as_deref(), json).await,
        Command::Deliveries(DeliveriesCmd::Retry { id, tenant, json }) => {
            cmd::deliveries::retry(&store, tenant.as_deref(), &id, json).await
        }
        Command::Credit {
            transaction_id,
            reason,
            tenant,
            json,
        } => {
            cmd::deliveries::credit(
                &store,
                tenant.as_deref(),
                &transaction_id,
                reason,
                false,
                json,
            )
            .await
        }
        Command::Correct {
            transaction_id,
            reason,
            tenant,
            json,
        } => {
            cmd::deliveries::credit(
                &store,
                tenant.as_deref(),
                &transaction_id,
                reason,
                true,
                json,
            )
            .await
        }
        Command::Reconcile {
            tenant,
            since,
            json,
        } => cmd::deliveries::reconcile(&store, &tenant, since.as_deref(), json).await,
        Command::Spot(c) => cmd::spot::run(&store, c).await,
        Command::Logs(args) => cmd::logs::run(&store, &args).await,
        Command::Serve(args) => cmd::serve::run(&store, &args).await,
        Command::Servicebus(ServicebusCmd::Pull { for_secs }) => {
            cmd::servicebus::pull(&store, for_secs).await
        }
        Command::RunScenario {
            dir,
            json,
            uc_standin,
        } => cmd::scenario::run(&store, &dir, json, uc_standin).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::fail(e),
    }
}
