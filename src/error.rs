//! Compile-time diagnostics and their rendering.
//!
//! Invariant: every error found before a program runs (lexing, parsing, name resolution,
//! compiling) is one `Diagnostic` with a kind, a message and a byte span; it is printed
//! like rustc — `file:line:col: Kind: message`, the source line, a caret — and the process
//! exits 2. Runtime errors are toy values (see `value.rs`) and print as tracebacks.

use crate::ast::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// `SyntaxError`, `NameError` or `ImportError`.
    pub kind: &'static str,
    pub message: String,
    pub span: Span,
    /// A problem found in another file (a module this one imports), already rendered
    /// against that file; `span` is then where this file imports it.
    pub elsewhere: Option<std::rc::Rc<str>>,
}

impl Diagnostic {
    pub fn syntax(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            kind: "SyntaxError",
            message: message.into(),
            span,
            elsewhere: None,
        }
    }

    pub fn name(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            kind: "NameError",
            message: message.into(),
            span,
            elsewhere: None,
        }
    }

    /// An `ImportError` at `span`.
    pub fn import(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            kind: "ImportError",
            message: message.into(),
            span,
            elsewhere: None,
        }
    }

    /// `file:line:col: Kind: message`, then the source line and a caret under the column.
    /// A problem in an imported module is shown in that module, then where it is imported.
    pub fn render(&self, file: &str, source: &str) -> String {
        let (line, col, text) = locate(source, self.span.start);
        if let Some(inner) = &self.elsewhere {
            return format!("{inner}  (imported at {file}:{line}:{col})\n");
        }
        let (shown, caret_col) = excerpt(text, col);
        let caret_pad: String = shown
            .chars()
            .take(caret_col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{file}:{line}:{col}: {}: {}\n    {shown}\n    {caret_pad}^\n",
            self.kind, self.message
        )
    }
}

/// At most `EXCERPT` characters of a long line, around 1-based column `col`, marked with
/// `...` where cut; returns the text and the caret's column within it.
fn excerpt(text: &str, col: usize) -> (String, usize) {
    const EXCERPT: usize = 100;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= EXCERPT {
        return (text.to_string(), col);
    }
    let start = col.saturating_sub(EXCERPT / 2).min(chars.len().saturating_sub(EXCERPT));
    let end = (start + EXCERPT).min(chars.len());
    let mut shown = String::new();
    let mut caret = col - start;
    if start > 0 {
        shown.push_str("...");
        caret += 3;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push_str("...");
    }
    (shown, caret)
}

/// The 1-based line and column (in characters) of byte `offset`, and that line's text.
pub fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
    let line = source[..offset].matches('\n').count() + 1;
    let col = source[line_start..offset].chars().count() + 1;
    let text = source[line_start..line_end].trim_end_matches('\r');
    (line, col, text)
}

/// The 1-based line of byte `offset`.
pub fn line_of(source: &str, offset: usize) -> u32 {
    let offset = offset.min(source.len());
    (source.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count() + 1) as u32
}
