//! "Did you mean ...?": the known name nearest to a mistyped one, by edit
//! distance, when it is near enough to be a typo of it.

/// The candidate closest to `typed` when it is close enough to be a typo of
/// it: at most one edit for every three characters of the candidate (at
/// least one), so short keys are not "corrected" into unrelated ones. Ties go
/// to the first candidate.
pub(crate) fn nearest<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(typed, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal-string-alignment distance: inserting, deleting or replacing a
/// character, or swapping two neighbouring ones, each cost one edit. Swaps
/// count once, not twice as in plain Levenshtein, because transposed letters
/// are among the commonest typos.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // table[i][j]: the distance between a[..i] and b[..j].
    let mut table = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, cells) in table.iter_mut().enumerate() {
        cells[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let replace = table[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace.min(table[i - 1][j] + 1).min(table[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_are_one_edit_and_far_names_are_not_suggested() {
        assert_eq!(edit_distance("topci", "topic"), 1);
        assert_eq!(edit_distance("", "java"), 4);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            nearest("kafka.prot", ["topic", "kafka.port"]),
            Some("kafka.port")
        );
        assert_eq!(nearest("colour", ["topic", "java"]), None);
    }
}
