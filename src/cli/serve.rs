//! `cds serve`: the CDS Hooks service with the rulesets of a folder.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cds_server::config::Config;

/// Runs the CDS Hooks 2.0 service (discovery, service calls, feedback, device onboarding,
/// FHIR operations, health and metrics). Settings: defaults, then the config file, then
/// `CDS_*` environment variables, then these flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see docs/server.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<SocketAddr>,
    /// The rulesets folder (default ./rulesets).
    #[arg(long, value_name = "DIR")]
    rulesets: Option<PathBuf>,
    /// Serve without authentication on a non-loopback address. Anyone who can connect can
    /// send patient data and administer the server; logged loudly. Not needed on loopback.
    #[arg(long)]
    insecure_no_auth: bool,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(a) = args.addr {
        config.addr = a;
    }
    if let Some(r) = &args.rulesets {
        config.rulesets = r.clone();
    }
    if args.insecure_no_auth {
        config.insecure_no_auth = true;
    }
    cds_server::serve::init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let scheme = if config.tls.cert.is_some() {
        "https"
    } else {
        "http"
    };
    runtime.block_on(cds_server::serve::serve(config, |addr| {
        // The one line on stdout: tests and scripts read the bound address from it.
        println!("listening on {scheme}://{addr}");
    }))?;
    Ok(ExitCode::SUCCESS)
}
