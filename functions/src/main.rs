//! `entra-monitor`: the Entra monitoring function set, and the hosts that run it.
//!
//! Exit codes: 0 success, 1 a function failed, 2 bad usage or configuration.

use clap::{Parser, Subcommand};

/// mimalloc: the collectors allocate and free many small JSON values; glibc's allocator spent
/// half the pipeline's time in malloc/free (measured with `bench/run`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use entra_monitor::app::App;
use entra_monitor::invocation::{HostKind, HttpRequest};
use entra_monitor::{functions, hosts};
use shared::clock::SystemClock;
use shared::config::{Config, ConfigSource, Host};
use shared::registry::Trigger;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "entra-monitor",
    version,
    about = "Microsoft Entra monitoring and health, as a serverless function set"
)]
struct Cli {
    /// A TOML configuration file (also ENTRA_MONITOR_CONFIG); environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every timer function on its schedule and serve the HTTP functions (local host).
    Serve {
        /// Address to listen on (ENTRA_MONITOR_LISTEN; default 127.0.0.1:7071).
        #[arg(long, value_name = "ADDRESS")]
        listen: Option<String>,
        /// Folder of the state and the embedded store (ENTRA_MONITOR_DATA_DIR).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Run one function once and print what it did (a timer function) or its answer (an HTTP
    /// function, e.g. `run app-users app=Outlook last=7d`); exits 1 if it failed.
    Run {
        /// The function's name, as `entra-monitor functions` lists it.
        function: String,
        /// An HTTP function's parameters, as name=value: route parameters (`category` of
        /// `logs`), query parameters, or the fields of a POST body.
        #[arg(value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Folder of the state and the embedded store (ENTRA_MONITOR_DATA_DIR).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// List the functions with their schedules and routes.
    Functions,
    /// Validate the configuration and exit (0 when valid, 2 when not).
    CheckConfig,
    /// Serve as an Azure Functions custom handler on FUNCTIONS_CUSTOMHANDLER_PORT.
    Azure,
    /// Serve AWS Lambda invocations from the Runtime API.
    Lambda,
    /// Import log files into the embedded store for offline investigation, then run the risk
    /// detections over them: Microsoft Graph exports (signIns, directoryAudits, provisioning,
    /// riskDetections, riskyUsers), diagnostic-settings records (Storage's one per line, Event
    /// Hubs' {"records":[...]}) and Log Analytics exports (JSON or CSV), recognised per record.
    /// Exits 0 when every record was imported, 1 when some were rejected, 2 on usage errors.
    Import {
        /// Files, folders (every file under them), .gz files, or - for standard input.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<String>,
        /// The tenant (GUID or domain) of records that do not carry one, like Graph exports.
        #[arg(long)]
        tenant: Option<String>,
        /// Read every record as this format instead of recognising it: graph,
        /// diagnostic-settings or log-analytics.
        #[arg(long)]
        format: Option<String>,
        /// Every record is of this category (SignInLogs, NonInteractiveUserSignInLogs,
        /// ServicePrincipalSignInLogs, ManagedIdentitySignInLogs, AuditLogs, ProvisioningLogs,
        /// RiskyUsers, UserRiskEvents, ServicePrincipalRiskEvents, RiskyServicePrincipals), for
        /// records that do not say.
        #[arg(long)]
        category: Option<String>,
    },
    /// Serve the simulated tenant's Microsoft Graph API on its own (for other tools, or to
    /// point a deployment at), until Ctrl-C.
    Simulate {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7072")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 300)]
        users: usize,
        /// Share of requests answered 429 with Retry-After (0 to 1).
        #[arg(long, default_value_t = 0.0)]
        throttle: f64,
        /// Share of requests answered 429 without Retry-After.
        #[arg(long, default_value_t = 0.0)]
        throttle_without_retry_after: f64,
        /// Share of requests answered 503.
        #[arg(long, default_value_t = 0.0)]
        server_error: f64,
        /// Share of 200 answers cut off half-way.
        #[arg(long, default_value_t = 0.0)]
        truncate: f64,
        /// Repeat the last record of each page at the start of the next.
        #[arg(long)]
        duplicate_across_pages: bool,
    },
    /// Read an API key from standard input and print the SHA-256 hash to configure for it
    /// (ENTRA_MONITOR_API_KEYS=name=<hash>); the key itself is never configured.
    HashKey,
    /// Print (or write to --out) the ARM template of the Log Analytics custom tables and the
    /// DCR, generated from the row definitions.
    LogAnalyticsTemplate {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print (or write to --out) the Azure ARM template of the function app
    /// (`infra/azure/function-app.json`).
    AzureTemplate {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print (or write to --out) the AWS SAM template (`infra/aws/template.json`), generated
    /// from the function registry.
    AwsTemplate {
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write, or check, the Azure `<FunctionName>/function.json` files from the registry.
    FunctionJson {
        /// The folder to write them into.
        #[arg(long, value_name = "DIR", conflicts_with = "check")]
        out: Option<PathBuf>,
        /// The folder whose files must agree with the registry.
        #[arg(long, value_name = "DIR")]
        check: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // With no command, the platform decides: Lambda and the Functions host set these.
    let command = match cli.command {
        Some(c) => c,
        None if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => Command::Lambda,
        None if std::env::var_os("FUNCTIONS_CUSTOMHANDLER_PORT").is_some() => Command::Azure,
        None => {
            eprintln!(
                "entra-monitor: no command given; try `entra-monitor serve` or `entra-monitor --help`"
            );
            return ExitCode::from(2);
        }
    };
    if let Some(code) = without_configuration(&command) {
        return code;
    }
    if let Command::Simulate { .. } = &command {
        return simulate(command);
    }
    let host = match command {
        Command::Azure => Host::Azure,
        Command::Lambda => Host::Lambda,
        _ => Host::Local,
    };
    let source = config_source(cli.config, &command);
    let config = match Config::load(&source, host, &functions::timer_names()) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "entra-monitor: {} configuration problem(s); nothing was started",
                errors.0.len()
            );
            return ExitCode::from(2);
        }
    };
    if let Some(code) = refuse_unsafe(&command, &config) {
        return code;
    }
    shared::telemetry::init(config.log_format, &config.log_filter);
    if host == Host::Azure && config.data_dir == Path::new(shared::config::AZURE_LOCAL_DATA_DIR) {
        tracing::warn!(
            data_dir = shared::config::AZURE_LOCAL_DATA_DIR,
            "$HOME is a network share, where SQLite must not run: the state is on this instance's local disk and is lost when the instance goes (checkpoints included: the next instance collects its backfill again)"
        );
    }

    let host_kind = match host {
        Host::Local => HostKind::Local,
        Host::Azure => HostKind::Azure,
        Host::Lambda => HostKind::Lambda,
    };
    let runtime = match async_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let clock: Arc<dyn shared::clock::Clock> = match config.simulated_start {
        Some(start) => Arc::new(shared::clock::StartedClock::new(start)),
        None => Arc::new(SystemClock),
    };
    let app = App::new(config, host_kind, clock, functions::REGISTRY.as_slice());
    runtime.block_on(async move {
        match command {
            Command::Serve { .. } => report(hosts::local::serve(app).await),
            Command::Run {
                function, params, ..
            } => run_once(app, &function, &params).await,
            Command::Functions => {
                list_functions(&app);
                ExitCode::SUCCESS
            }
            Command::CheckConfig => {
                println!("configuration is valid");
                ExitCode::SUCCESS
            }
            Command::Import {
                paths,
                tenant,
                format,
                category,
            } => {
                entra_monitor::import::run(
                    &app,
                    entra_monitor::import::Args {
                        paths,
                        tenant,
                        format,
                        category,
                    },
                )
                .await
            }
            Command::Azure => azure(app).await,
            Command::Lambda => lambda(app).await,
            Command::FunctionJson { .. }
            | Command::Simulate { .. }
            | Command::HashKey
            | Command::LogAnalyticsTemplate { .. }
            | Command::AwsTemplate { .. }
            | Command::AzureTemplate { .. } => {
                unreachable!("handled before the configuration is read")
            }
        }
    })
}

/// Where the configuration comes from: the file and the environment, and the command's flags,
/// which win over both.
fn config_source(file: Option<PathBuf>, command: &Command) -> ConfigSource {
    let mut source = ConfigSource::from_process(file);
    let (listen, data_dir) = match command {
        Command::Serve { listen, data_dir } => (listen.clone(), data_dir.clone()),
        Command::Run { data_dir, .. } => (None, data_dir.clone()),
        _ => (None, None),
    };
    if let Some(listen) = listen {
        source.env.insert("ENTRA_MONITOR_LISTEN".into(), listen);
    }
    if let Some(dir) = data_dir {
        source
            .env
            .insert("ENTRA_MONITOR_DATA_DIR".into(), dir.display().to_string());
    }
    source
}

/// Settings that are valid but unsafe to start with: refused with exit 2, nothing started.
fn refuse_unsafe(command: &Command, config: &Config) -> Option<ExitCode> {
    // `serve` on a network address with no credential configured would answer every question
    // to anyone who can reach it (and refuse every state change): refused, as check-config says.
    if matches!(*command, Command::Serve { .. } | Command::CheckConfig)
        && !config.listen.ip().is_loopback()
        && !config.auth.configured()
    {
        eprintln!(
            "configuration error: ENTRA_MONITOR_LISTEN: {} is not a loopback address and no credential is configured; set ENTRA_MONITOR_API_KEYS or ENTRA_MONITOR_AUTH_AUDIENCE, or listen on 127.0.0.1",
            config.listen
        );
        eprintln!("entra-monitor: 1 configuration problem(s); nothing was started");
        return Some(ExitCode::from(2));
    }
    // SQLite on a network file system corrupts the store: refused before anything starts.
    if let Some(fstype) = shared::state::filesystem::network_filesystem(&config.data_dir) {
        eprintln!(
            "configuration error: ENTRA_MONITOR_DATA_DIR: {} is on a network file system ({fstype}); SQLite's WAL mode and locking do not work there; set it to local disk (e.g. /tmp/entra-monitor)",
            config.data_dir.display()
        );
        eprintln!("entra-monitor: 1 configuration problem(s); nothing was started");
        return Some(ExitCode::from(2));
    }
    None
}

/// Prints `text` to standard output. A reader that went away early (`| head`) is not a
/// failure; any other write error is said and is one.
fn print_out(text: &str) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entra-monitor: cannot write to standard output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `text`, or writes it to `out`.
fn print_or_write(text: &str, out: Option<&std::path::Path>) -> ExitCode {
    match out {
        None => print_out(text),
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("entra-monitor: cannot write {}: {e}", path.display());
                ExitCode::FAILURE
            }
        },
    }
}

/// The commands that need no configuration (they print or write something and exit).
fn without_configuration(command: &Command) -> Option<ExitCode> {
    if let Command::FunctionJson { out, check } = command {
        return Some(function_json(out.as_deref(), check.as_deref()));
    }
    if let Command::HashKey = command {
        let mut key = String::new();
        if std::io::stdin().read_line(&mut key).is_err() || key.trim().is_empty() {
            eprintln!(
                "entra-monitor: give the key on standard input, e.g. `printf %s \"$KEY\" | entra-monitor hash-key`"
            );
            return Some(ExitCode::from(2));
        }
        println!("{}", shared::auth::hash_key(&key));
        return Some(ExitCode::SUCCESS);
    }
    if let Command::LogAnalyticsTemplate { out } = command {
        let text = shared::destinations::log_analytics::schema::arm_template_text();
        return Some(print_or_write(&text, out.as_deref()));
    }
    if let Command::AzureTemplate { out } = command {
        let text = entra_monitor::azure_template::text();
        return Some(print_or_write(&text, out.as_deref()));
    }
    if let Command::AwsTemplate { out } = command {
        return Some(match entra_monitor::aws_template::text() {
            Ok(text) => print_or_write(&text, out.as_deref()),
            Err(e) => {
                eprintln!("entra-monitor: a schedule cannot run on EventBridge: {e}");
                ExitCode::FAILURE
            }
        });
    }
    None
}

fn async_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("entra-monitor: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("entra-monitor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn azure(app: Arc<App>) -> ExitCode {
    let port = match std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT").map(|p| p.trim().parse::<u16>())
    {
        Ok(Ok(port)) => port,
        Ok(Err(_)) => {
            eprintln!(
                "FUNCTIONS_CUSTOMHANDLER_PORT: not a port number; the Functions host sets it"
            );
            return ExitCode::from(2);
        }
        Err(_) => {
            eprintln!(
                "FUNCTIONS_CUSTOMHANDLER_PORT: not set; the Functions host sets it (to run locally use `entra-monitor serve`)"
            );
            return ExitCode::from(2);
        }
    };
    let stopper = app.clone();
    tokio::spawn(async move {
        hosts::local::wait_for_signal().await;
        tracing::info!("shutting down");
        stopper.begin_shutdown();
    });
    report(hosts::azure::serve(app, port).await)
}

async fn lambda(app: Arc<App>) -> ExitCode {
    if let Err(e) = hosts::lambda::check_environment() {
        eprintln!("entra-monitor: {e}");
        return ExitCode::from(2);
    }
    let default_function = std::env::var("ENTRA_MONITOR_LAMBDA_FUNCTION").ok();
    if let Some(name) = default_function
        .as_ref()
        .filter(|n| !functions::timer_names().contains(&n.as_str()))
    {
        eprintln!(
            "ENTRA_MONITOR_LAMBDA_FUNCTION: no timer function \"{name}\"; expected one of {}",
            functions::timer_names().join(", ")
        );
        return ExitCode::from(2);
    }
    match hosts::lambda::serve(app, default_function).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("lambda runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_once(app: Arc<App>, name: &str, params: &[String]) -> ExitCode {
    let Some(function) = functions::find(name) else {
        eprintln!(
            "entra-monitor: no function named \"{name}\"; expected one of {}",
            functions::REGISTRY
                .iter()
                .map(|f| f.spec.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(2);
    };
    match function.spec.trigger {
        Trigger::Timer { .. } => {
            if !params.is_empty() {
                eprintln!(
                    "entra-monitor: {} is a timer function and takes no parameters",
                    function.spec.name
                );
                return ExitCode::from(2);
            }
            let id = uuid::Uuid::new_v4().to_string();
            match app
                .invoke_timer(function.spec.name, Default::default(), id)
                .await
            {
                Ok(report) => {
                    println!(
                        "{}: {} in {} ms: {}",
                        function.spec.name,
                        report.outcome.as_str(),
                        report.duration_ms,
                        report.detail
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("entra-monitor: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Trigger::Http { route, methods, .. } => {
            let mut req = match cli_request(route, methods, params) {
                Ok(req) => req,
                Err(e) => {
                    eprintln!("entra-monitor: {}: {e}", function.spec.name);
                    return ExitCode::from(2);
                }
            };
            // Whoever may read the data folder acts as its local admin (the key is kept there).
            let key_file = app
                .config()
                .data_dir
                .join(entra_monitor::admission::LOCAL_ADMIN_KEY_FILE);
            if let Ok(key) = std::fs::read_to_string(key_file) {
                req.headers.insert("x-api-key".into(), key.trim().into());
            }
            let resp = app.handle_http(req, uuid::Uuid::new_v4().to_string()).await;
            let printed = print_out(&format!("{}\n", resp.body_text()));
            if resp.status < 400 {
                printed
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The request `run` makes of an HTTP function: `name=value` pairs fill the route's
/// parameters, then the query (GET) or a JSON body of strings (a function that only takes
/// POST).
fn cli_request(
    route: &str,
    methods: &[shared::registry::Method],
    params: &[String],
) -> Result<HttpRequest, String> {
    let mut path = route.to_string();
    let mut rest = std::collections::BTreeMap::new();
    for p in params {
        let Some((name, value)) = p.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(format!("\"{p}\" is not name=value"));
        };
        let slot = format!("{{{name}}}");
        if path.contains(&slot) {
            path = path.replace(&slot, value);
        } else if rest.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }
    if let Some(open) = path.find('{') {
        let name = &path[open + 1..path[open..].find('}').map_or(path.len(), |i| open + i)];
        return Err(format!("{name}: required (give {name}=...)"));
    }
    let post = !methods.contains(&shared::registry::Method::Get);
    let mut req = HttpRequest {
        method: if post { "POST" } else { "GET" }.into(),
        path,
        ..Default::default()
    };
    if post {
        req.headers
            .insert("content-type".into(), "application/json".into());
        req.body = serde_json::to_vec(&rest).unwrap_or_default().into();
    } else {
        req.query = rest;
    }
    Ok(req)
}

fn list_functions(app: &App) {
    println!(
        "{:<22} {:<7} {:<22} DESCRIPTION",
        "NAME", "TRIGGER", "SCHEDULE (UTC) / ROUTE"
    );
    for f in functions::REGISTRY.iter() {
        let (trigger, when) = match f.spec.trigger {
            Trigger::Timer { .. } => ("timer", app.schedule_of(f.spec).to_string()),
            Trigger::Http { route, methods, .. } => {
                let verbs: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
                ("http", format!("{} /api/{route}", verbs.join(",")))
            }
        };
        println!(
            "{:<22} {:<7} {:<22} {}",
            f.spec.name, trigger, when, f.spec.description
        );
    }
}

fn simulate(command: Command) -> ExitCode {
    let Command::Simulate {
        listen,
        seed,
        users,
        throttle,
        throttle_without_retry_after,
        server_error,
        truncate,
        duplicate_across_pages,
    } = command
    else {
        return ExitCode::from(2);
    };
    for (name, p) in [
        ("--throttle", throttle),
        (
            "--throttle-without-retry-after",
            throttle_without_retry_after,
        ),
        ("--server-error", server_error),
        ("--truncate", truncate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            eprintln!("entra-monitor: {name} is {p}; expected a share from 0 to 1");
            return ExitCode::from(2);
        }
    }
    shared::telemetry::init(shared::config::LogFormat::Text, "info");
    let faults = shared::simulated::server::Faults {
        throttle,
        throttle_without_retry_after,
        server_error,
        truncate,
        duplicate_across_pages,
        ..Default::default()
    };
    let runtime = match async_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let tenant = shared::simulated::SimulatedTenant::new(seed, users.max(1));
        let tenant_id = tenant.directory.tenant_id.clone();
        let server = shared::simulated::server::SimServer::new(tenant, Arc::new(SystemClock), faults);
        match server.start(listen).await {
            Ok(base) => {
                println!("simulated tenant {tenant_id} ({users} users) serving Microsoft Graph at {base} (e.g. {base}/v1.0/auditLogs/directoryAudits)");
                hosts::local::wait_for_signal().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("entra-monitor: cannot listen on {listen}: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn function_json(out: Option<&std::path::Path>, check: Option<&std::path::Path>) -> ExitCode {
    match (out, check) {
        (Some(dir), None) => match hosts::azure::write_layout(dir) {
            Ok(()) => {
                println!(
                    "wrote {} function.json files under {}",
                    functions::REGISTRY.len(),
                    dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("entra-monitor: cannot write under {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        (None, Some(dir)) => {
            let problems = hosts::azure::check_layout(dir);
            for p in &problems {
                eprintln!("{p}");
            }
            if problems.is_empty() {
                println!(
                    "{} function.json files agree with the registry",
                    functions::REGISTRY.len()
                );
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "entra-monitor: function.json and the registry disagree; regenerate with `entra-monitor function-json --out {}`",
                    dir.display()
                );
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!(
                "entra-monitor: give --out DIR to write the files or --check DIR to compare them"
            );
            ExitCode::from(2)
        }
    }
}
