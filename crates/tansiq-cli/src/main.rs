//! `tansiq`: the command line of a Tansiq node (contract: docs/CLI.md).
//!
//! Parsing happens here; every command runs one service call of
//! `tansiq_node::Node` as the node's operator. Errors print one line to
//! stderr and exit 2 (bad input), 3 (refused by policy) or 1 (other).

mod cli;
mod demo;
mod query;
mod screen;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
