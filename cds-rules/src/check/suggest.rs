//! "Did you mean `x`?": the closest candidate by edit distance.

/// Edit distance between two strings, counted in characters (case-sensitive): insertions,
/// deletions, substitutions and swaps of two neighbours (`spb` → `sbp`) each count one.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 0..a.len() {
        cur[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(a[i] != b[j]);
            let mut d = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(before[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo: at most a
/// third of the word's length (at least 1, at most 3) edits, case differences counted as
/// half. Ties go to the first candidate.
pub(crate) fn closest<'c, I>(word: &str, candidates: I) -> Option<&'c str>
where
    I: IntoIterator<Item = &'c str>,
{
    let len = word.chars().count();
    if len == 0 || len > 200 {
        return None;
    }
    let limit = (len / 3).clamp(1, 3) * 2;
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word || c.chars().count() > 200 {
            continue;
        }
        // Twice the distance, with case-only differences costing one instead of two.
        let exact = distance(word, c);
        let folded = distance(&lower, &c.to_lowercase());
        let score = folded * 2 + usize::from(exact > folded) * (exact - folded).min(1);
        if score <= limit && best.is_none_or(|(s, _)| score < s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("systolic", "sytolic"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("µg", "ug"), 1);
        assert_eq!(distance("spb", "sbp"), 1);
        assert_eq!(distance("patient-veiw", "patient-view"), 1);
        assert_eq!(distance("ca", "abc"), 3);
    }

    #[test]
    fn closest_candidate() {
        let names = ["systolic", "diastolic", "rr-points"];
        assert_eq!(closest("sytolic", names), Some("systolic"));
        assert_eq!(closest("rr-point", names), Some("rr-points"));
        assert_eq!(closest("glucose", names), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
        assert_eq!(
            closest("Patient-View", ["patient-view"]),
            Some("patient-view")
        );
        assert_eq!(closest("", names), None);
    }
}
