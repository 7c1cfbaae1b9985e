//! Files the CLI writes and reads on the operator's behalf (issue 12,
//! finding 11): a failed export leaves no audit entry, the atomic writer
//! follows no planted symlink and replaces nothing without `--force`, and
//! a bundle import reads a bounded regular file only.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

fn exports(dir: &Path) -> i64 {
    store_count(
        dir,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'bundle.export'",
    )
}

fn args<'a>(to_id: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["bundle", "export", "--to", to_id, "--out", out];
    a.extend_from_slice(extra);
    a
}

#[test]
fn a_failed_bundle_export_leaves_no_audit_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let (_, ma_id) = introduce(&dz, &ma);
    let before = exports(&dz);
    let err = fails(&dz, &args(&ma_id, "/nonexistent/x", &[]), 1);
    assert!(err.contains("/nonexistent"), "{err}");
    assert_eq!(
        exports(&dz),
        before,
        "an audit entry for a file never written"
    );
    let out = tmp.path().join("for-ma.bundle");
    ok(&dz, &args(&ma_id, out.to_str().unwrap(), &[]));
    assert_eq!(exports(&dz), before + 1);
    ok(&dz, &["audit", "verify"]);
}

#[cfg(unix)]
#[test]
fn the_atomic_writer_follows_no_planted_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let (_, ma_id) = introduce(&dz, &ma);
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = tmp.path().join("for-ma.bundle");
    // Where the old writer put its temporary file (`OUT.tmp`).
    let planted = tmp.path().join("for-ma.tmp");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    ok(&dz, &args(&ma_id, out.to_str().unwrap(), &[]));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    // No temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && n != "for-ma.tmp")
        .collect();
    assert!(names.is_empty(), "{names:?}");
    // The bundle is good.
    assert_eq!(ok(&ma, &["bundle", "import", out.to_str().unwrap()]), "0");
}

#[test]
fn an_existing_out_file_is_replaced_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let (_, ma_id) = introduce(&dz, &ma);
    let out = tmp.path().join("report.txt");
    std::fs::write(&out, "someone's report").unwrap();
    let before = exports(&dz);
    let err = fails(&dz, &args(&ma_id, out.to_str().unwrap(), &[]), 2);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "someone's report");
    assert_eq!(exports(&dz), before);
    #[cfg(unix)]
    {
        // A symlink at --out counts as existing (and is not followed).
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = tmp.path().join("link.bundle");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        fails(&dz, &args(&ma_id, link.to_str().unwrap(), &[]), 2);
        ok(&dz, &args(&ma_id, link.to_str().unwrap(), &["--force"]));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
    ok(&dz, &args(&ma_id, out.to_str().unwrap(), &["--force"]));
    assert!(std::fs::read_to_string(&out).unwrap().starts_with('{'));
    assert_eq!(ok(&ma, &["bundle", "import", out.to_str().unwrap()]), "0");
}

/// Not run against the old code: it read `/dev/zero` until memory ran out.
#[cfg(unix)]
#[test]
fn a_bundle_import_reads_only_a_bounded_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ma = init_at(tmp.path(), "ma", "MA");
    let t = Instant::now();
    let err = fails(&ma, &["bundle", "import", "/dev/zero"], 2);
    assert!(err.contains("not a regular file"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20));
    let err = fails(&ma, &["bundle", "import", tmp.path().to_str().unwrap()], 2);
    assert!(err.contains("not a regular file"), "{err}");
}

/// `backup` has the same traps as an export: a failed backup leaves no
/// `store.backup` entry, a dangling symlink planted at --out is neither
/// followed nor replaced, and the copy is 0600 from its creation.
#[test]
fn a_failed_backup_is_not_audited_and_a_planted_symlink_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let backups = || {
        store_count(
            &dz,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'store.backup'",
        )
    };
    fails(&dz, &["backup", "--out", "/nonexistent/dz.db"], 2);
    assert_eq!(backups(), 0, "an audit entry for a backup never written");
    #[cfg(unix)]
    {
        let target = tmp.path().join("elsewhere.db");
        let link = tmp.path().join("planted.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = fails(&dz, &["backup", "--out", link.to_str().unwrap()], 2);
        assert!(err.contains("already exists"), "{err}");
        assert!(!target.exists(), "the backup went where the symlink points");
        assert_eq!(backups(), 0);
    }
    let good = tmp.path().join("good.db");
    if on_postgres() {
        // pg_dump's job: refused, and neither a file nor an entry left.
        fails(&dz, &["backup", "--out", good.to_str().unwrap()], 2);
        assert!(!good.exists());
        assert_eq!(backups(), 0);
    } else {
        ok(&dz, &["backup", "--out", good.to_str().unwrap()]);
        assert_eq!(backups(), 1);
    }
}
