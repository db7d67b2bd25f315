//! The committed dataset is exactly the one the project was built on.

use std::process::Command;

#[test]
fn data_files_match_sha256sums() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let out = Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&data)
        .output()
        .expect("sha256sum runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "checksum mismatch:\n{report}");
    assert_eq!(report.matches(": OK").count(), 2, "{report}");
}
