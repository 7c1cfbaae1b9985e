//! `tansiq completions SHELL` and `tansiq man [--out DIR]`: generated from
//! the same clap definition that parses the command line, so they never
//! drift from it (`cli.rs` hands that definition in). Neither needs a node.

use std::io::Write;

use clap::{Args, ValueEnum};

use crate::error::{CliError, CliResult};

/// The shells `tansiq completions` writes a script for.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

// `tansiq man` (documented on its `Cmd` variant).
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write one page per command into DIR (tansiq.1, tansiq-peer.1,
    /// tansiq-peer-add.1, …) instead of printing tansiq(1).
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
}

pub fn completions(mut cmd: clap::Command, shell: Shell) -> CliResult {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tansiq", &mut out);
    write_stdout(&out);
    Ok(())
}

pub fn man(cmd: clap::Command, args: &ManArgs) -> CliResult {
    let Some(dir) = &args.out else {
        write_stdout(&render(cmd)?);
        return Ok(());
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::bad(format!("cannot create {}: {e}", dir.display())))?;
    // Pages named by each command's path (tansiq-peer-add.1), global
    // flags (--dir, --json) on every page.
    clap_mangen::generate_to(cmd.clone(), dir)
        .map_err(|e| CliError::bad(format!("cannot write the pages in {}: {e}", dir.display())))?;
    outln!("{}", pages(&cmd.disable_help_subcommand(true)));
    Ok(())
}

/// How many pages `generate_to` writes for `cmd`: its own and its
/// subcommands', depth first, hidden ones left out.
fn pages(cmd: &clap::Command) -> usize {
    1 + cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(pages)
        .sum::<usize>()
}

fn render(cmd: clap::Command) -> CliResult<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut page)
        .map_err(|e| CliError::other(format!("rendering the man page: {e}")))?;
    Ok(page)
}

/// Generated text straight to stdout (not through `term::safe`: it is
/// ours, and roff and shell scripts must stay byte for byte).
fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        crate::output::failed(e)
    }
}
