//! Text placed into HTML, XML or SVG (reports, pictures, FHIRPath's `escape('html')`): the five
//! markup characters escaped, so that text from rule files or data is never read as markup.
//!
//! ```
//! assert_eq!(cds_core::markup::escape("a < b & 'c'"), "a &lt; b &amp; &#39;c&#39;");
//! ```

/// `&`, `<`, `>`, `"` and `'` as character references; everything else as it is.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            super::escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(super::escape("plain ✓"), "plain ✓");
    }
}
