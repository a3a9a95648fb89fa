//! Text for the SVG pictures toy draws (`toy timeline`, `toy compare --svg`). Invariant:
//! whatever `escape` returns can stand inside an element or a quoted attribute and reads
//! back as the text it was given.

/// `text` with the five characters XML reserves written as entities.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
