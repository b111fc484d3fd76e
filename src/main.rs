//! The `cds` command. Each subcommand lives in its own module under [`cli`].
//!
//! Exit codes: 0 success; 1 the command ran but found problems (e.g. `cds stats` rejected
//! resources); 2 usage or I/O errors.

mod cli;

/// mimalloc instead of the system allocator: loading builds many small JSON values on rayon
/// worker threads and frees them on others, which glibc's allocator handles poorly (it was most
/// of the time of `cds stats` on NDJSON).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
