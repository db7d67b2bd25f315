//! `produce --copies N` against the shared broker and a real Spark: the
//! N-fold data arrives exactly once and intact by `consume --verify
//! --copies N`, `--resume` sees every copy, and the job's results equal the
//! N-fold ground truth.

use crate::common::{
    assert_all_delivered, available_now_results, count, create_topic, data_slice, json,
    shared_broker, Aggregates,
};

const COPIES: u64 = 3;
const RECORDS: usize = 2000;

#[test]
fn three_copies_arrive_once_each_and_the_job_counts_the_three_fold_truth() {
    let broker = shared_broker();
    let topic = "copies.three";
    create_topic(broker, topic);
    let (_slice_dir, slice) = data_slice(RECORDS);
    let copies = COPIES.to_string();
    let out = broker
        .sfcrime()
        .args(["produce", "-t", topic, "--json", "--copies", &copies, "-f"])
        .arg(&slice)
        .output()
        .unwrap();
    let total = COPIES * RECORDS as u64;
    assert_all_delivered(
        out.status,
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
        total,
    );

    let verify = |extra: &[&str]| {
        let out = broker
            .sfcrime()
            .args(["consume", "-t", topic, "--json", "--verify"])
            .arg(&slice)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            json(&String::from_utf8_lossy(&out.stdout))["verify"].clone(),
        )
    };
    let (status, report) = verify(&["--copies", &copies]);
    assert_eq!(status, Some(0), "{report}");
    for (key, want) in [
        ("expected", total),
        ("present", total),
        ("missing", 0),
        ("duplicated", 0),
        ("corrupted", 0),
        ("foreign", 0),
    ] {
        assert_eq!(count(&report, key), want, "{key}: {report}");
    }
    // Against the file alone, copy 0 is the file's records byte for byte and
    // the other copies' indexes lie past it.
    let (status, report) = verify(&[]);
    assert_eq!(status, Some(2), "{report}");
    assert_eq!(count(&report, "present"), RECORDS as u64, "{report}");
    assert_eq!(count(&report, "corrupted"), 0, "{report}");
    assert_eq!(
        count(&report, "foreign"),
        total - RECORDS as u64,
        "{report}"
    );

    // --resume counts in the copies' indexes: nothing is left to send.
    let out = broker
        .sfcrime()
        .args([
            "produce", "-t", topic, "--json", "--resume", "--copies", &copies, "-f",
        ])
        .arg(&slice)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(count(&summary, "sent"), 0, "{summary}");
    assert_eq!(count(&summary, "already_in_topic"), total, "{summary}");
    assert_eq!(count(&summary, "confirmed_prefix"), total, "{summary}");

    let got = available_now_results(broker, topic, &[]);
    let truth = Aggregates::ground_truth_copies(&slice, COPIES);
    got.assert_equal(&truth);
    // Copies share no window: three times the file's windows.
    assert_eq!(
        truth.windows.len(),
        COPIES as usize * Aggregates::ground_truth(&slice).windows.len()
    );
}
