//! Finding where each entry of a Bundle starts in the raw JSON text, so that a problem in entry
//! 1234 of a 9 MB Bundle can be reported as `file:line:column`.
//!
//! serde_json gives no positions for values inside a parsed document, so this is a light second
//! pass over the bytes: it tracks strings and nesting only, and records the start of each element
//! of the top-level object's `entry` array.

/// The 1-based (line, column) of each `entry` element of a Bundle's raw text.
pub(crate) struct EntryPositions {
    starts: Vec<(usize, usize)>,
}

impl EntryPositions {
    /// Scans `raw` (the text of one Bundle). Malformed text gives fewer or no positions.
    pub(crate) fn scan(raw: &[u8]) -> Self {
        let mut starts = Vec::new();
        let mut depth = 0usize;
        let mut line = 1usize;
        let mut line_start = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut string_start = 0usize;
        let mut last_key_is_entry = false;
        let mut in_entries = false;
        for (i, &b) in raw.iter().enumerate() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 1 {
                        last_key_is_entry = raw.get(string_start..i) == Some(b"entry".as_slice());
                    }
                } else if b == b'\n' {
                    line += 1;
                    line_start = i + 1;
                }
                continue;
            }
            match b {
                b'"' => {
                    if in_entries && depth == 2 {
                        starts.push((line, i - line_start + 1));
                    }
                    in_string = true;
                    string_start = i + 1;
                }
                b'{' | b'[' => {
                    if in_entries && depth == 2 {
                        starts.push((line, i - line_start + 1));
                    }
                    if depth == 1 && b == b'[' && last_key_is_entry {
                        in_entries = true;
                    }
                    depth += 1;
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 1 {
                        in_entries = false;
                    }
                }
                b'\n' => {
                    line += 1;
                    line_start = i + 1;
                }
                b' ' | b'\t' | b'\r' | b',' | b':' => {}
                _ => {
                    // a number or literal: an entry that starts with one is still an entry
                    if in_entries
                        && depth == 2
                        && !raw.get(i.wrapping_sub(1)).is_some_and(is_scalar_byte)
                    {
                        starts.push((line, i - line_start + 1));
                    }
                }
            }
        }
        EntryPositions { starts }
    }

    /// The position of entry `i`.
    pub(crate) fn get(&self, i: usize) -> Option<(usize, usize)> {
        self.starts.get(i).copied()
    }
}

fn is_scalar_byte(b: &u8) -> bool {
    !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b'{' | b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_entry_starts() {
        let raw = br#"{"resourceType": "Bundle", "x": {"entry": [1]},
  "entry": [
    {"resource": {"entry": [2, 3]}},
    {"fullUrl": "a\"]}"},
    7, "s", [1]
  ]
}"#;
        let p = EntryPositions::scan(raw);
        assert_eq!(p.get(0), Some((3, 5)));
        assert_eq!(p.get(1), Some((4, 5)));
        assert_eq!(p.get(2), Some((5, 5)));
        assert_eq!(p.get(3), Some((5, 8)));
        assert_eq!(p.get(4), Some((5, 13)));
        assert_eq!(p.get(5), None);
    }
}
