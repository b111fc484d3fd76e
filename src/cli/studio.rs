//! `cds studio`: the rule studio on this machine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use cds_server::config::Config;

/// Opens the rule studio locally: the server with the rulesets folder and the studio page, on a
/// loopback address only, without authentication, on embedded defaults (no config file). Open
/// the printed address in a browser. Saving writes the ruleset files (previous versions kept
/// in `.history/` beside them).
#[derive(Debug, clap::Args)]
pub struct StudioArgs {
    /// The rulesets folder (default ./rulesets).
    #[arg(long, value_name = "DIR")]
    rulesets: Option<PathBuf>,
    /// Address to listen on; loopback only (default 127.0.0.1:8484).
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<SocketAddr>,
    /// Folders of sample patients (FHIR JSON files) and cohorts (NDJSON folders); repeatable
    /// (default examples/data and ../shared/data).
    #[arg(long, value_name = "DIR")]
    samples: Vec<PathBuf>,
}

pub fn run(args: &StudioArgs) -> anyhow::Result<ExitCode> {
    // Embedded defaults (no configuration file); `CDS_*` environment variables still apply.
    let mut config = Config::load(None)?;
    if std::env::var_os("CDS_ADDR").is_none() {
        config.addr = "127.0.0.1:8484".parse().expect("a valid address");
    }
    if let Some(a) = args.addr {
        config.addr = a;
    }
    let a = config.addr;
    if !a.ip().is_loopback() {
        bail!(
            "cds studio listens on a loopback address only ({a} is not one); to offer the studio to others, run `cds serve` with authentication: the studio then needs the admin role"
        );
    }
    if let Some(r) = &args.rulesets {
        config.rulesets = r.clone();
    }
    if !args.samples.is_empty() {
        config.studio.samples = args.samples.clone();
    }
    config.studio.enabled = true;
    // Backtests replay whole cohorts: allow them time.
    config.limits.request_timeout_ms = 600_000;
    config.log_format = cds_server::config::LogFormat::Text;
    cds_server::serve::init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(cds_server::serve::serve(config, |addr| {
        // The one line on stdout: tests and scripts read the address from it.
        println!("studio on http://{addr}/studio/");
    }))?;
    Ok(ExitCode::SUCCESS)
}
