//! Reading captures in runs bounded by body bytes, so that no stream or export holds more than
//! a budget of bodies at once.

/// Splits `items` into runs whose sizes add up to at most `budget` bytes (an item larger than
/// the budget makes a run of its own).
pub(crate) fn by_bytes<T>(items: &[T], budget: usize, size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && bytes.saturating_add(n) > budget {
            runs.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(n);
    }
    if start < items.len() {
        runs.push(&items[start..]);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_stay_within_the_budget_and_a_large_item_goes_alone() {
        let sizes = [3usize, 3, 3, 10, 1];
        let runs: Vec<usize> = by_bytes(&sizes, 6, |s| *s)
            .iter()
            .map(|r| r.len())
            .collect();
        assert_eq!(runs, [2, 1, 1, 1]);
        assert!(by_bytes(&[] as &[usize], 6, |s| *s).is_empty());
    }
}
