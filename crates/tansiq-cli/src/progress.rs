//! Progress on stderr for the commands that can run long (`watchlist
//! import`, `screen`, `query --names`, `bundle export|import`, `store
//! migrate`, `backup`, `audit verify`): a bar when the work has a known
//! size, a spinner when it is one opaque step. Drawn only when stderr is
//! a terminal — pipes, files, CI logs and `2>` redirections get nothing —
//! and cleared before the command prints its result, so stdout (JSON,
//! JSONL, text) is never touched.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether progress is drawn at all.
fn watched() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar for work of `len` units (0: set later, by [`Progress::report`]),
/// labelled `what` ("importing", "copying", …).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !watched() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        // wide_bar: as wide as the terminal leaves room for, so the line
        // never wraps (a wrapped bar is redrawn as a new line each tick).
        ProgressStyle::with_template("{msg:>10} [{wide_bar}] {pos}/{len} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// A spinner with the elapsed time, for a step whose size is not known
/// before it ends (sealing a bundle, opening and checking one).
pub fn spinner(what: &str) -> ProgressBar {
    if !watched() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template"),
    );
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A node operation's `(done, total)` callback driving `pb`.
pub trait Progress {
    fn report(&self) -> impl Fn(u64, u64) + Send + Sync + '_;
}

impl Progress for ProgressBar {
    fn report(&self) -> impl Fn(u64, u64) + Send + Sync + '_ {
        move |done, total| {
            if self.length() != Some(total) {
                self.set_length(total);
            }
            self.set_position(done);
        }
    }
}

/// Runs `f` under `pb`, clearing it afterwards whatever `f` returned.
pub fn with<T>(pb: ProgressBar, f: impl FnOnce(&ProgressBar) -> T) -> T {
    let r = f(&pb);
    pb.finish_and_clear();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sets_length_and_position() {
        // A hidden bar (tests have no terminal) still counts.
        let pb = bar(0, "testing");
        let report = pb.report();
        report(3, 10);
        report(7, 10);
        assert_eq!((pb.position(), pb.length()), (7, Some(10)));
    }
}
