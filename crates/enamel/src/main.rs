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
