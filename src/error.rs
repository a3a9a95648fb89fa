//! Compile-time diagnostics and their rendering.
//!
//! Invariant: every error found before a program runs (lexing, parsing, name resolution,
//! compiling) is one `Diagnostic` with a kind, a message and a byte span; it is printed
//! like rustc — `file:line:col: Kind: message`, the source line, a caret — and the process
//! exits 2. Runtime errors are toy values (see `value.rs`) and print as tracebacks.

use crate::ast::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// `SyntaxError` or `NameError`.
    pub kind: &'static str,
    pub message: String,
    pub span: Span,
}

impl Diagnostic {
    pub fn syntax(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { kind: "SyntaxError", message: message.into(), span }
    }

    pub fn name(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic { kind: "NameError", message: message.into(), span }
    }

    /// `file:line:col: Kind: message`, then the source line and a caret under the column.
    pub fn render(&self, file: &str, source: &str) -> String {
        let (line, col, text) = locate(source, self.span.start);
        let caret_pad: String = text
            .chars()
            .take(col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{file}:{line}:{col}: {}: {}\n    {text}\n    {caret_pad}^\n",
            self.kind, self.message
        )
    }
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
