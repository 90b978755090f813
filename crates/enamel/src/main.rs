//! The `enamel` command. Thin: parsing arguments and printing; the work is in the
//! library crates.

// Printing to the terminal is this binary's job; everything else logs via tracing.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod cli;
mod commands;
mod import;
mod keys;
mod practice;

use clap::Parser as _;

/// mimalloc instead of the C library's allocator: glibc gives each of the server's
/// threads (tokio's workers and one per SQLite connection) an arena of its own and
/// returns little of it, so resident memory grew to about 177 MB during the HTTP
/// benchmark on SQLite; with mimalloc (and a smaller SQLite page cache) it was 120
/// to 135 MB after it, and allocation costs less CPU (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            // Errors carry context and ids, never values; `{:#}` shows the cause chain.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
