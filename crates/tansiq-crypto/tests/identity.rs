#![cfg(unix)]
use std::fs;
use std::os::unix::fs::PermissionsExt;

use tansiq_crypto::{verify, CryptoError, Identity};

#[test]
fn save_load_round_trip_with_0600_files() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let id = Identity::generate();
    id.save(&keys).unwrap();
    for f in ["signing.key", "encryption.key"] {
        let mode = fs::metadata(keys.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let dir_mode = fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    // No temporary files left behind.
    assert_eq!(fs::read_dir(&keys).unwrap().count(), 2);
    let back = Identity::load(&keys).unwrap();
    assert_eq!(back.signing_public(), id.signing_public());
    assert_eq!(back.encryption_public(), id.encryption_public());
    assert_eq!(back.node_id(), id.node_id());
    let sig = back.sign("tansiq/t/v1", b"m");
    verify(&id.signing_public(), "tansiq/t/v1", b"m", &sig).unwrap();
    let text = fs::read_to_string(keys.join("signing.key")).unwrap();
    assert!(text.starts_with("tansiq-ed25519-secret-v1 "));
}

#[test]
fn save_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let id = Identity::generate();
    id.save(dir.path()).unwrap();
    let before = fs::read(dir.path().join("signing.key")).unwrap();
    let other = Identity::generate();
    assert!(matches!(
        other.save(dir.path()),
        Err(CryptoError::AlreadyExists(_))
    ));
    assert_eq!(fs::read(dir.path().join("signing.key")).unwrap(), before);

    // Only one of the two present: still refused, nothing written.
    let dir2 = tempfile::tempdir().unwrap();
    fs::write(dir2.path().join("encryption.key"), "x").unwrap();
    assert!(matches!(
        other.save(dir2.path()),
        Err(CryptoError::AlreadyExists(_))
    ));
    assert!(!dir2.path().join("signing.key").exists());
}

#[test]
fn load_rejects_group_or_world_readable_files() {
    let dir = tempfile::tempdir().unwrap();
    Identity::generate().save(dir.path()).unwrap();
    let path = dir.path().join("signing.key");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let err = Identity::load(dir.path()).unwrap_err();
        assert!(
            matches!(err, CryptoError::InsecurePermissions(_)),
            "{mode:o}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("signing.key") && msg.contains("chmod 600"),
            "{msg}"
        );
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    Identity::load(dir.path()).unwrap();
}

#[test]
fn load_rejects_garbage_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Identity::load(dir.path()),
        Err(CryptoError::Io(_))
    ));
    Identity::generate().save(dir.path()).unwrap();
    let path = dir.path().join("encryption.key");
    for bad in [
        "",
        "tansiq-x25519-secret-v1\n",
        "tansiq-ed25519-secret-v1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "tansiq-x25519-secret-v1 AAAA\n",
        "tansiq-x25519-secret-v1  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
    ] {
        fs::write(&path, bad).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            matches!(Identity::load(dir.path()), Err(CryptoError::BadKey(_))),
            "{bad:?}"
        );
    }
    fs::write(&path, "x".repeat(10_000)).unwrap();
    assert!(Identity::load(dir.path()).is_err());
}

#[test]
fn error_messages_carry_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    Identity::generate().save(dir.path()).unwrap();
    let path = dir.path().join("signing.key");
    let content = fs::read_to_string(&path).unwrap();
    let secret = content.split(' ').nth(1).unwrap().trim().to_owned();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let msg = Identity::load(dir.path()).unwrap_err().to_string();
    assert!(!msg.contains(&secret));
}
