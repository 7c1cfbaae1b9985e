//! `tansiq`: the command line of a Tansiq node (contract: docs/CLI.md).
//!
//! `cli.rs` parses and dispatches; every command runs one service call of
//! `tansiq_node::Node` as the node's operator. Errors print one line to
//! stderr and exit 2 (bad input), 3 (refused by policy) or 1 (other).

/// `println!` that ends the process quietly when stdout is closed (a
/// reader such as `head` has had enough): the command's work is already
/// done, and a panic or an error message would only be noise.
/// Every line goes through `term::safe`: no escape sequence from a
/// partner's or a file's text reaches the terminal.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{}", $crate::term::safe(&line)).and_then(|()| out.flush()) {
            $crate::output::failed(e)
        }
    }};
}

/// mimalloc rather than glibc's malloc: a node allocates per record and
/// per envelope on every core, and glibc's allocator was ~15% of a node's
/// CPU in the federation benchmark (docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Bottom to top: `term`, `error`, `output`, `input`, `ctx` are shared by
// every command; `commands/` holds one module per feature; `serve` and
// `demo` run until done; `cli` parses and dispatches to all of them.
mod cli;
mod commands;
mod ctx;
mod demo;
mod error;
mod input;
mod output;
mod progress;
mod serve;
mod term;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", term::safe(&e.to_string()));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
