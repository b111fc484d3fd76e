//! The `cds` command. Each subcommand lives in its own module under [`cli`].
//!
//! Exit codes: 0 success; 1 the command ran but found problems (e.g. `cds stats` rejected
//! resources); 2 usage or I/O errors.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
