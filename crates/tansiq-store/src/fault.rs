//! A fault point for the kill tests (docs/TESTING.md, "Kill -9 soak"):
//! with `TANSIQ_FAULT_COMMIT=before:N` (or `after:N`) in its environment,
//! the process sends itself SIGKILL just before (or just after) the COMMIT
//! of its N-th write transaction, so a crash lands exactly inside a
//! commit — the statements executed but not committed, or committed but
//! not yet seen by the caller (nothing sent, nothing answered). Unset (as
//! in production), the point costs one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    Before,
    After,
}

struct Plan {
    phase: Phase,
    at: u64,
    seen: AtomicU64,
}

fn plan() -> Option<&'static Plan> {
    static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let v = std::env::var("TANSIQ_FAULT_COMMIT").ok()?;
        let (phase, n) = v.split_once(':')?;
        let phase = match phase {
            "before" => Phase::Before,
            "after" => Phase::After,
            _ => return None,
        };
        let at = n.parse().ok().filter(|&n| n > 0)?;
        Some(Plan {
            phase,
            at,
            seen: AtomicU64::new(0),
        })
    })
    .as_ref()
}

/// Called just before and just after every write transaction's COMMIT.
pub(crate) fn commit_point(phase: Phase) {
    let Some(p) = plan() else { return };
    if phase == Phase::Before && p.seen.fetch_add(1, Ordering::SeqCst) + 1 != p.at {
        return;
    }
    if phase == p.phase && p.seen.load(Ordering::SeqCst) == p.at {
        die();
    }
}

#[cfg(unix)]
fn die() -> ! {
    // SIGKILL, as `kill -9` from outside: no handler, no destructor, no
    // buffered write flushed.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

#[cfg(not(unix))]
fn die() -> ! {
    std::process::abort()
}
