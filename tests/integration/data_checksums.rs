//! The committed dataset is exactly the one the project was built on.

use std::process::Command;

#[test]
fn data_files_match_sha256sums() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    // A mismatch fails sha256sum, whose error lists the files.
    let out = sfcrime_process::output(
        Command::new("sha256sum")
            .args(["--check", "--strict", "SHA256SUMS"])
            .current_dir(&data),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(report.matches(": OK").count(), 2, "{report}");
}
