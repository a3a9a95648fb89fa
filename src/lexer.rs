//! The lexer: logos turns source text into tokens, and a small adapter on top applies the
//! newline rule of LANGUAGE.md §1 and tracks bracket nesting.
//!
//! Invariant: the parser never sees a `Newline` token. A newline becomes a statement
//! terminator (`Token::Semi`, the same token as `;`) exactly when the last emitted token
//! can end a statement and the innermost open bracket is not `(` or `[`; runs of
//! terminators are collapsed to one. Brackets are checked here too: no more than
//! `MAX_NESTING` may be open at once (which bounds every later recursive pass), closers
//! must match their openers, and end of file inside a bracket is an error naming the
//! bracket. Every lexical problem is one `Diagnostic` with the span of the problem, after
//! which the token stream ends.

use crate::ast::Span;
use crate::error::{Diagnostic, line_of};
use logos::Logos;

/// How many brackets of any kind may be open at once.
pub const MAX_NESTING: usize = 200;

/// A lexical error carried through logos. `None` means no token pattern matched (an
/// unknown character); the adapter turns that into a message naming the character.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LexError(Option<Diagnostic>);

#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(error = LexError)]
// U+FEFF is skipped so a file saved with a byte-order mark still lexes.
#[logos(skip r"[ \t\r\f\u{FEFF}]+")]
#[logos(skip(r"#[^\n]*", allow_greedy = true))]
pub enum Token {
    /// Only produced by logos; the adapter drops it or turns it into `Semi`.
    #[token("\n")]
    Newline,
    /// `;`, or a newline that ends a statement.
    #[token(";")]
    Semi,

    #[token("let")]
    Let,
    #[token("fn")]
    Fn,
    #[token("return")]
    Return,
    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("while")]
    While,
    #[token("for")]
    For,
    #[token("in")]
    In,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("nil")]
    Nil,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,
    #[token("with")]
    With,
    #[token("try")]
    Try,
    #[token("catch")]
    Catch,
    #[token("throw")]
    Throw,
    #[token("import")]
    Import,
    #[token("from")]
    From,
    #[token("as")]
    As,

    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token(".")]
    Dot,

    #[token("=")]
    Assign,
    #[token("+=")]
    PlusAssign,
    #[token("-=")]
    MinusAssign,
    #[token("*=")]
    StarAssign,
    #[token("/=")]
    SlashAssign,
    #[token("//=")]
    SlashSlashAssign,
    #[token("%=")]
    PercentAssign,

    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("//")]
    SlashSlash,
    #[token("%")]
    Percent,
    #[token("**")]
    StarStar,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,

    #[regex("[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_owned())]
    Ident(String),
    #[regex("[0-9][0-9_]*", lex_decimal)]
    #[regex("0[xX][0-9a-fA-F_]+", lex_hex)]
    Int(i64),
    #[regex(r"[0-9][0-9_]*\.[0-9][0-9_]*([eE][+-]?[0-9][0-9_]*)?", lex_float)]
    #[regex(r"[0-9][0-9_]*[eE][+-]?[0-9][0-9_]*", lex_float)]
    Float(f64),
    /// The string's value with escapes decoded; logos only matches the opening quote and
    /// `lex_string` consumes the rest, so errors can point inside the literal.
    #[token("\"", lex_string)]
    Str(String),
    /// A formatted string `f"..."`: its literal pieces (escapes decoded, `{{`/`}}` undone)
    /// and the source text of each `{expr:spec}`, for the parser to parse in place.
    #[token("f\"", lex_fstring)]
    FStr(Vec<FPiece>),
}

/// One piece of an f-string, as the lexer cuts it.
#[derive(Clone, Debug, PartialEq)]
pub enum FPiece {
    /// Text taken as it is.
    Text(String),
    /// `{expr}` or `{expr:spec}`: the expression's source and where it starts, in bytes
    /// from the start of the `f"` token, and the spec's text.
    Field {
        expr: String,
        at: usize,
        spec: Option<String>,
    },
}

type Lex<'s> = logos::Lexer<'s, Token>;

fn lex_error(message: impl Into<String>, start: usize, end: usize) -> LexError {
    LexError(Some(Diagnostic::syntax(message, Span::new(start, end))))
}

/// Rejects a number glued to letters or digits (`123abc`, `0xfg`, `1e`), and underscores
/// that do not sit between two digits (`1_`, `1__0`, `1_.5`), as Python does. `prefix` is
/// 2 for hex literals (`0x`), whose digits include letters, and 0 otherwise.
fn check_number(lex: &Lex, prefix: usize) -> Result<(), LexError> {
    let (start, end) = (lex.span().start, lex.span().end);
    let text = lex.slice();
    let rest = lex.remainder();
    let glued = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if glued > 0 {
        let whole = format!("{text}{}", &rest[..glued]);
        return Err(lex_error(
            format!("invalid number literal '{whole}'"),
            start,
            end + glued,
        ));
    }
    let bytes = text.as_bytes();
    let digit: fn(&u8) -> bool = if prefix == 2 {
        u8::is_ascii_hexdigit
    } else {
        u8::is_ascii_digit
    };
    let is_digit = |j: usize| bytes.get(j).is_some_and(digit);
    for (i, &b) in bytes.iter().enumerate().skip(prefix) {
        if b == b'_' && !(i > prefix && is_digit(i - 1) && is_digit(i + 1)) {
            return Err(lex_error(
                format!("invalid number literal '{text}' (an '_' must sit between two digits)"),
                start,
                end,
            ));
        }
    }
    Ok(())
}

fn lex_decimal(lex: &mut Lex) -> Result<i64, LexError> {
    check_number(lex, 0)?;
    let span = lex.span();
    let digits: String = lex.slice().chars().filter(|&c| c != '_').collect();
    // Python forbids `007` so nobody mistakes it for octal; so do we.
    if digits.len() > 1 && digits.starts_with('0') && digits.bytes().any(|b| b != b'0') {
        return Err(lex_error(
            "leading zeros are not allowed in integer literals (write 0x for hex)",
            span.start,
            span.end,
        ));
    }
    match digits.parse::<i64>() {
        Ok(i) => Ok(i),
        Err(_) if digits == TWO_TO_THE_63 => Ok(i64::MIN),
        Err(_) => Err(lex_error("integer literal too large", span.start, span.end)),
    }
}

/// 2**63, one past the largest int: a literal only under a minus sign, which makes it the
/// smallest int. It lexes as `Int(i64::MIN)` (no other literal can: they are
/// non-negative), and the compiler refuses it anywhere but under the minus.
const TWO_TO_THE_63: &str = "9223372036854775808";

fn lex_hex(lex: &mut Lex) -> Result<i64, LexError> {
    check_number(lex, 2)?;
    let span = lex.span();
    let digits: String = lex.slice()[2..].chars().filter(|&c| c != '_').collect();
    match u64::from_str_radix(&digits, 16) {
        Ok(u) if u <= i64::MAX as u64 => Ok(u as i64),
        Ok(u) if u == 1 << 63 => Ok(i64::MIN),
        _ => Err(lex_error("integer literal too large", span.start, span.end)),
    }
}

fn lex_float(lex: &mut Lex) -> Result<f64, LexError> {
    check_number(lex, 0)?;
    let span = lex.span();
    let text: String = lex.slice().chars().filter(|&c| c != '_').collect();
    // The regex only admits valid float syntax, so this cannot fail; stay total anyway.
    text.parse::<f64>()
        .map_err(|_| lex_error("invalid float literal", span.start, span.end))
}

/// Consumes a string body after the opening quote, decoding escapes.
fn lex_string(lex: &mut Lex) -> Result<String, LexError> {
    let open = lex.span().start;
    let body_start = lex.span().end;
    let rest = lex.remainder();
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        let at = body_start + i;
        match c {
            '"' => {
                lex.bump(i + 1);
                return Ok(out);
            }
            '\n' => {
                return Err(lex_error(
                    "unterminated string: a string cannot contain a raw newline (write \\n)",
                    at,
                    at + 1,
                ));
            }
            '\\' => {
                let Some((j, e)) = chars.next() else { break };
                let esc_end = body_start + j + e.len_utf8();
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    'u' => {
                        let (ch, consumed) = unicode_escape(&rest[j + 1..])
                            .map_err(|len| lex_error(bad_unicode_message(), at, esc_end + len))?;
                        out.push(ch);
                        // Skip the `{hex}` part we just decoded.
                        for _ in 0..consumed {
                            chars.next();
                        }
                    }
                    '\n' => {
                        return Err(lex_error(
                            "unterminated string: a string cannot contain a raw newline (write \\n)",
                            esc_end - 1,
                            esc_end,
                        ));
                    }
                    other => {
                        let shown: String = other.escape_debug().collect();
                        return Err(lex_error(
                            format!(
                                "unknown escape '\\{shown}' in string (valid: \\n \\t \\r \\\\ \\\" \\0 \\u{{...}})"
                            ),
                            at,
                            esc_end,
                        ));
                    }
                }
            }
            _ => out.push(c),
        }
    }
    Err(lex_error("unterminated string", open, open + 1))
}

/// Consumes an f-string body after `f"`: literal text with the escapes of a string, `{{`
/// and `}}` for braces, and fields `{expr}` / `{expr:spec}`. A field's expression ends at
/// the first `:` or `}` outside brackets; it may not contain a quote or a newline, and a
/// lone `}` in the text is an error — each pointing inside the literal.
fn lex_fstring(lex: &mut Lex) -> Result<Vec<FPiece>, LexError> {
    let open = lex.span().start;
    let body_start = lex.span().end;
    let rest = lex.remainder();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = rest.char_indices().peekable();
    let raw_newline = |at: usize| {
        lex_error(
            "unterminated string: a string cannot contain a raw newline (write \\n)",
            at,
            at + 1,
        )
    };
    while let Some((i, c)) = chars.next() {
        let at = body_start + i;
        match c {
            '"' => {
                if !text.is_empty() {
                    pieces.push(FPiece::Text(text));
                }
                lex.bump(i + 1);
                return Ok(pieces);
            }
            '\n' => return Err(raw_newline(at)),
            '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                chars.next();
                text.push('{');
            }
            '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                chars.next();
                text.push('}');
            }
            '}' => {
                return Err(lex_error(
                    "single '}' is not allowed in an f-string (write '}}' for a brace)",
                    at,
                    at + 1,
                ));
            }
            '{' => {
                if !text.is_empty() {
                    pieces.push(FPiece::Text(std::mem::take(&mut text)));
                }
                let expr_start = i + 1;
                let mut depth = 0usize;
                let mut expr_end = None;
                let mut spec = None;
                while let Some((j, d)) = chars.next() {
                    let at = body_start + j;
                    match d {
                        '"' => {
                            return Err(lex_error(
                                "an f-string expression cannot contain '\"' (nor end the string)",
                                at,
                                at + 1,
                            ));
                        }
                        '\n' => return Err(raw_newline(at)),
                        '(' | '[' | '{' => depth += 1,
                        ')' | ']' | '}' if depth > 0 => depth -= 1,
                        '}' => {
                            expr_end = Some(j);
                            break;
                        }
                        ':' if depth == 0 => {
                            expr_end = Some(j);
                            let mut s = String::new();
                            let mut closed = false;
                            for (k, e) in chars.by_ref() {
                                let at = body_start + k;
                                match e {
                                    '}' => {
                                        closed = true;
                                        break;
                                    }
                                    '{' => {
                                        return Err(lex_error(
                                            "a format spec cannot hold another '{...}' field",
                                            at,
                                            at + 1,
                                        ));
                                    }
                                    '"' => {
                                        return Err(lex_error(
                                            "f-string: expected '}' before the end of the string",
                                            at,
                                            at + 1,
                                        ));
                                    }
                                    '\n' => return Err(raw_newline(at)),
                                    e => s.push(e),
                                }
                            }
                            if !closed {
                                return Err(lex_error("unterminated string", open, open + 2));
                            }
                            spec = Some(s);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(end) = expr_end else {
                    return Err(lex_error("unterminated string", open, open + 2));
                };
                let expr = &rest[expr_start..end];
                if expr.trim().is_empty() {
                    return Err(lex_error(
                        "f-string: empty expression not allowed",
                        body_start + expr_start - 1,
                        body_start + end + 1,
                    ));
                }
                pieces.push(FPiece::Field {
                    expr: expr.to_string(),
                    at: body_start + expr_start - open,
                    spec,
                });
            }
            '\\' => {
                let Some((j, e)) = chars.next() else { break };
                let esc_end = body_start + j + e.len_utf8();
                match e {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '0' => text.push('\0'),
                    '\\' => text.push('\\'),
                    '"' => text.push('"'),
                    'u' => {
                        let (ch, consumed) = unicode_escape(&rest[j + 1..])
                            .map_err(|len| lex_error(bad_unicode_message(), at, esc_end + len))?;
                        text.push(ch);
                        for _ in 0..consumed {
                            chars.next();
                        }
                    }
                    '\n' => return Err(raw_newline(esc_end - 1)),
                    other => {
                        let shown: String = other.escape_debug().collect();
                        return Err(lex_error(
                            format!(
                                "unknown escape '\\{shown}' in string (valid: \\n \\t \\r \\\\ \\\" \\0 \\u{{...}})"
                            ),
                            at,
                            esc_end,
                        ));
                    }
                }
            }
            c => text.push(c),
        }
    }
    Err(lex_error("unterminated string", open, open + 2))
}

fn bad_unicode_message() -> &'static str {
    "invalid unicode escape (write \\u{...} with 1 to 6 hex digits naming a valid code point)"
}

/// Decodes `{1F600}` at the start of `text`. On success returns the character and how
/// many characters were consumed; on failure, how many bytes of `text` the bad escape
/// covers, so the error span ends where the problem was seen.
fn unicode_escape(text: &str) -> Result<(char, usize), usize> {
    let Some(body) = text.strip_prefix('{') else {
        return Err(0);
    };
    let hex_len = body.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(body.len());
    let hex = &body[..hex_len];
    if !body[hex_len..].starts_with('}') || hex.is_empty() || hex.len() > 6 {
        return Err(1 + hex_len);
    }
    let code = u32::from_str_radix(hex, 16).map_err(|_| 2 + hex_len)?;
    let ch = char::from_u32(code).ok_or(2 + hex_len)?;
    // `{`, the hex digits and `}` are all one byte, so bytes == chars here.
    Ok((ch, hex_len + 2))
}

/// Whether a newline right after this token may end a statement (LANGUAGE.md §1).
fn ends_statement(token: &Token) -> bool {
    matches!(
        token,
        Token::Ident(_)
            | Token::Int(_)
            | Token::Float(_)
            | Token::Str(_)
            | Token::FStr(_)
            | Token::True
            | Token::False
            | Token::Nil
            | Token::RParen
            | Token::RBracket
            | Token::RBrace
            | Token::Return
            | Token::Break
            | Token::Continue
    )
}

/// A friendlier message for characters Python or C programmers reach for.
fn unknown_char_message(c: char) -> String {
    let shown: String = c.escape_debug().collect();
    let hint = match c {
        '!' => " (write 'not' for negation, '!=' for inequality)",
        '&' => " (write 'and')",
        '|' => " (write 'or')",
        '\'' => " (strings use double quotes)",
        _ => "",
    };
    format!("unexpected character '{shown}'{hint}")
}

/// One item of the stream the parser consumes.
pub type Spanned = Result<(usize, Token, usize), Diagnostic>;

/// The adapter over logos' `spanned()` iterator that applies the newline rule.
pub struct Lexer<'s> {
    source: &'s str,
    inner: logos::SpannedIter<'s, Token>,
    /// Open brackets, innermost last: the opening character and its byte offset.
    brackets: Vec<(char, usize)>,
    /// Whether the last emitted token lets a newline end the statement.
    last_ends_statement: bool,
    /// Whether the last emitted token was a terminator (so another one is redundant).
    last_was_semi: bool,
    /// Set once the stream has ended, after an error or at end of file.
    done: bool,
    /// Set when end of file was reached with a bracket still open.
    unclosed_at_eof: bool,
    /// Added to every position: the text is a piece of a larger source (an f-string's
    /// expression) and positions must point into that.
    offset: usize,
}

impl<'s> Lexer<'s> {
    pub fn new(source: &'s str) -> Lexer<'s> {
        Lexer {
            source,
            inner: Token::lexer(source).spanned(),
            brackets: Vec::new(),
            last_ends_statement: false,
            last_was_semi: false,
            done: false,
            unclosed_at_eof: false,
            offset: 0,
        }
    }

    /// A lexer over `source`, a piece of a larger text that starts at byte `offset` of it.
    pub fn at(source: &'s str, offset: usize) -> Lexer<'s> {
        Lexer {
            offset,
            ..Lexer::new(source)
        }
    }

    /// True once the stream has ended because the text stopped inside an open bracket:
    /// the interactive prompt uses this to ask for another line.
    pub fn ended_inside_bracket(&self) -> bool {
        self.unclosed_at_eof
    }

    fn fail(&mut self, mut diagnostic: Diagnostic) -> Option<Spanned> {
        self.done = true;
        diagnostic.span = Span::new(diagnostic.span.start + self.offset, diagnostic.span.end + self.offset);
        Some(Err(diagnostic))
    }

    fn emit(&mut self, start: usize, token: Token, end: usize) -> Option<Spanned> {
        self.last_ends_statement = ends_statement(&token);
        self.last_was_semi = token == Token::Semi;
        Some(Ok((start + self.offset, token, end + self.offset)))
    }

    /// Checks a closing bracket against the innermost opener.
    fn close(&mut self, closer: char, start: usize) -> Result<(), Diagnostic> {
        let span = Span::new(start, start + 1);
        let Some((opener, open_at)) = self.brackets.pop() else {
            return Err(Diagnostic::syntax(format!("unmatched '{closer}'"), span));
        };
        let expected = match opener {
            '(' => ')',
            '[' => ']',
            _ => '}',
        };
        if closer == expected {
            return Ok(());
        }
        let open_line = line_of(self.source, open_at);
        let where_ = if open_line == line_of(self.source, start) {
            String::new()
        } else {
            format!(" on line {open_line}")
        };
        Err(Diagnostic::syntax(
            format!("closing '{closer}' does not match opening '{opener}'{where_}"),
            span,
        ))
    }
}

impl Iterator for Lexer<'_> {
    type Item = Spanned;

    fn next(&mut self) -> Option<Spanned> {
        if self.done {
            return None;
        }
        loop {
            let Some((result, range)) = self.inner.next() else {
                self.done = true;
                let &(opener, at) = self.brackets.last()?;
                self.unclosed_at_eof = true;
                let at = at + self.offset;
                return Some(Err(Diagnostic::syntax(
                    format!("'{opener}' was never closed"),
                    Span::new(at, at + 1),
                )));
            };
            let (start, end) = (range.start, range.end);
            let token = match result {
                Ok(token) => token,
                Err(LexError(Some(diagnostic))) => return self.fail(diagnostic),
                Err(LexError(None)) => {
                    let c = self.source.get(start..).and_then(|s| s.chars().next());
                    let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                    let span = Span::new(start, start + c.len_utf8());
                    return self.fail(Diagnostic::syntax(unknown_char_message(c), span));
                }
            };
            match token {
                Token::Newline => {
                    let in_group = matches!(self.brackets.last(), Some(('(' | '[', _)));
                    if self.last_ends_statement && !in_group {
                        return self.emit(start, Token::Semi, end);
                    }
                }
                Token::Semi if self.last_was_semi => {}
                Token::LParen | Token::LBracket | Token::LBrace => {
                    if self.brackets.len() >= MAX_NESTING {
                        return self.fail(Diagnostic::syntax(
                            format!("too deeply nested (more than {MAX_NESTING} open brackets)"),
                            Span::new(start, end),
                        ));
                    }
                    let opener = match token {
                        Token::LParen => '(',
                        Token::LBracket => '[',
                        _ => '{',
                    };
                    self.brackets.push((opener, start));
                    return self.emit(start, token, end);
                }
                Token::RParen | Token::RBracket | Token::RBrace => {
                    let closer = match token {
                        Token::RParen => ')',
                        Token::RBracket => ']',
                        _ => '}',
                    };
                    if let Err(diagnostic) = self.close(closer, start) {
                        return self.fail(diagnostic);
                    }
                    return self.emit(start, token, end);
                }
                token => return self.emit(start, token, end),
            }
        }
    }
}

/// Lexes all of `source`: the tokens, or the first error. Handy for tests and tools.
pub fn tokenize(source: &str) -> Result<Vec<(usize, Token, usize)>, Diagnostic> {
    Lexer::new(source).collect()
}

/// Whether `word` lexes as exactly one identifier (not a keyword, number or anything
/// else): the rule for host function names, taken from the token definitions themselves.
pub fn is_identifier(word: &str) -> bool {
    // One token spanning the whole word: the lexer skips blanks and comments, so a
    // shorter token would let "a # c" or " a" through.
    matches!(tokenize(word).as_deref(), Ok([(0, Token::Ident(_), end)]) if *end == word.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    #[test]
    fn identifiers_are_one_whole_token() {
        for good in ["a", "_x1", "count_primes", "A9"] {
            assert!(is_identifier(good), "{good:?}");
        }
        for bad in [
            "",
            "1a",
            "let",
            "ünï",
            "a;",
            "a\n",
            " a",
            "a ",
            "a # c",
            "\u{FEFF}a",
            "a.b",
            "a-b",
        ] {
            assert!(!is_identifier(bad), "{bad:?}");
        }
    }

    fn toks(source: &str) -> Vec<Token> {
        match tokenize(source) {
            Ok(tokens) => tokens.into_iter().map(|(_, t, _)| t).collect(),
            Err(d) => panic!("lex error in {source:?}: {}", d.render("t", source)),
        }
    }

    fn err(source: &str) -> Diagnostic {
        tokenize(source).expect_err(source)
    }

    /// The first error, rendered: `t:line:col: SyntaxError: message`.
    fn err_line(source: &str) -> String {
        err(source).render("t", source).lines().next().unwrap_or("").to_owned()
    }

    fn name(n: &str) -> Token {
        Ident(n.to_owned())
    }

    #[test]
    fn newline_ends_statement_after_enders() {
        assert_eq!(toks("x\ny"), [name("x"), Semi, name("y")]);
        assert_eq!(toks("1\n2.5\n\"s\"\ntrue\nfalse\nnil\n"), {
            [
                Int(1),
                Semi,
                Float(2.5),
                Semi,
                Str("s".into()),
                Semi,
                True,
                Semi,
                False,
                Semi,
                Nil,
                Semi,
            ]
        });
        assert_eq!(toks("f()\nxs[0]\n"), {
            [
                name("f"),
                LParen,
                RParen,
                Semi,
                name("xs"),
                LBracket,
                Int(0),
                RBracket,
                Semi,
            ]
        });
        assert_eq!(
            toks("return\nbreak\ncontinue\n"),
            [Return, Semi, Break, Semi, Continue, Semi]
        );
        assert_eq!(toks("if x {\n}\n"), [If, name("x"), LBrace, RBrace, Semi]);
    }

    #[test]
    fn newline_is_space_after_other_tokens() {
        assert_eq!(toks("x +\ny"), [name("x"), Plus, name("y")]);
        assert_eq!(toks("let x =\n1"), [Let, name("x"), Assign, Int(1)]);
        assert_eq!(toks("a and\nb"), [name("a"), And, name("b")]);
        assert_eq!(toks("\n\nx"), [name("x")]);
        assert_eq!(toks("{\n}"), [LBrace, RBrace]);
    }

    #[test]
    fn newline_is_space_inside_parens_and_brackets() {
        assert_eq!(
            toks("f(a\n,\nb\n)"),
            [name("f"), LParen, name("a"), Comma, name("b"), RParen]
        );
        assert_eq!(toks("[1\n,2\n]"), [LBracket, Int(1), Comma, Int(2), RBracket]);
        // A `{` inside parentheses makes newlines count again, until it closes.
        assert_eq!(
            toks("f(fn() {\nx\ny\n}\n)"),
            [
                name("f"),
                LParen,
                Fn,
                LParen,
                RParen,
                LBrace,
                name("x"),
                Semi,
                name("y"),
                Semi,
                RBrace,
                RParen
            ]
        );
        // And a `(` inside braces silences them again.
        assert_eq!(
            toks("{\nf(a\n)\n}"),
            [LBrace, name("f"), LParen, name("a"), RParen, Semi, RBrace]
        );
    }

    #[test]
    fn terminators_collapse_and_comments_vanish() {
        assert_eq!(toks("x\n\n\ny"), [name("x"), Semi, name("y")]);
        assert_eq!(toks("x;;\n;y"), [name("x"), Semi, name("y")]);
        assert_eq!(toks("x # note\n# more\n\ny # end"), [name("x"), Semi, name("y")]);
        assert_eq!(toks("x # no newline at end"), [name("x")]);
        assert_eq!(toks("\u{FEFF}x\r\ny\r\n"), [name("x"), Semi, name("y"), Semi]);
    }

    #[test]
    fn spans_of_terminators_point_at_the_newline() {
        let tokens = tokenize("ab\ncd").unwrap();
        assert_eq!(tokens[1], (2, Semi, 3));
        assert_eq!(tokens[2], (3, name("cd"), 5));
    }

    #[test]
    fn keywords_and_identifiers() {
        let all = "let fn return if else while for in break continue true false nil and or \
                   not with try catch throw";
        let expected = [
            Let, Fn, Return, If, Else, While, For, In, Break, Continue, True, False, Nil, And, Or, Not, With, Try,
            Catch, Throw,
        ];
        assert_eq!(toks(all), expected);
        assert_eq!(
            toks("letter _x in_ nil2 Fn"),
            [name("letter"), name("_x"), name("in_"), name("nil2"), name("Fn")]
        );
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("+ - * / // % ** == != < <= > >= = += -= *= /= //= %= , : . ;"),
            [
                Plus,
                Minus,
                Star,
                Slash,
                SlashSlash,
                Percent,
                StarStar,
                EqEq,
                NotEq,
                Lt,
                Le,
                Gt,
                Ge,
                Assign,
                PlusAssign,
                MinusAssign,
                StarAssign,
                SlashAssign,
                SlashSlashAssign,
                PercentAssign,
                Comma,
                Colon,
                Dot,
                Semi
            ]
        );
    }

    #[test]
    fn integer_literals() {
        assert_eq!(toks("0 42 1_000_000 0xff 0XFF"), {
            [Int(0), Int(42), Int(1_000_000), Int(255), Int(255)]
        });
        assert_eq!(toks("9223372036854775807"), [Int(i64::MAX)]);
        assert_eq!(toks("0x7fff_ffff_ffff_ffff"), [Int(i64::MAX)]);
        assert_eq!(toks("00"), [Int(0)]);
        // `1.x` is a field access on 1, and `1.` is 1 followed by a dot.
        assert_eq!(toks("1.x"), [Int(1), Dot, name("x")]);
    }

    #[test]
    fn float_literals() {
        assert_eq!(toks("1.5 1e9 2.5e-3 1E+2 1_0.2_5 0.0"), {
            [
                Float(1.5),
                Float(1e9),
                Float(2.5e-3),
                Float(100.0),
                Float(10.25),
                Float(0.0),
            ]
        });
        // `.5` is not a float: it is a dot and an integer.
        assert_eq!(toks(".5"), [Dot, Int(5)]);
        assert_eq!(toks("1e999"), [Float(f64::INFINITY)]);
    }

    #[test]
    fn string_literals_and_escapes() {
        assert_eq!(toks(r#""""#), [Str(String::new())]);
        assert_eq!(toks(r#""a\nb\tc\rd\\e\"f\0g""#), [Str("a\nb\tc\rd\\e\"f\0g".into())]);
        assert_eq!(toks(r#""\u{1F600}\u{41}\u{e9}""#), [Str("😀Aé".into())]);
        assert_eq!(
            toks(r#""héllo # not a comment""#),
            [Str("héllo # not a comment".into())]
        );
        let tokens = tokenize(r#"x = "ab" y"#).unwrap();
        assert_eq!(tokens[2], (4, Str("ab".into()), 8));
    }

    #[test]
    fn integer_too_large() {
        assert_eq!(err_line("x = 9223372036854775809"), {
            "t:1:5: SyntaxError: integer literal too large"
        });
        assert_eq!(
            err_line("0x8000000000000001"),
            "t:1:1: SyntaxError: integer literal too large"
        );
        // 2**63 lexes (as i64::MIN) for `-9223372036854775808`; the compiler refuses it
        // anywhere else.
        assert_eq!(toks("9223372036854775808"), [Int(i64::MIN)]);
        assert_eq!(toks("0x8000_0000_0000_0000"), [Int(i64::MIN)]);
        assert_eq!(err("1 99999999999999999999999").span, Span::new(2, 25));
    }

    #[test]
    fn malformed_numbers() {
        assert_eq!(
            err_line("x = 123abc"),
            "t:1:5: SyntaxError: invalid number literal '123abc'"
        );
        assert_eq!(err_line("1e"), "t:1:1: SyntaxError: invalid number literal '1e'");
        assert_eq!(err_line("0xfg"), "t:1:1: SyntaxError: invalid number literal '0xfg'");
        assert!(err_line("1_").contains("invalid number literal '1_'"));
        assert!(err_line("1__0").contains("'_' must sit between two digits"));
        assert!(err_line("1_.5").contains("invalid number literal"));
        assert!(err_line("0x_1").contains("invalid number literal"));
        assert!(err_line("007").contains("leading zeros"));
    }

    #[test]
    fn string_errors_point_at_the_problem() {
        assert_eq!(
            err_line(r#"s = "ab\qc""#),
            r#"t:1:8: SyntaxError: unknown escape '\q' in string (valid: \n \t \r \\ \" \0 \u{...})"#
        );
        assert_eq!(err(r#"s = "ab\qc""#).span, Span::new(7, 9));
        assert_eq!(err_line("s = \"abc"), "t:1:5: SyntaxError: unterminated string");
        assert_eq!(err_line("s = \"abc\\"), "t:1:5: SyntaxError: unterminated string");
        let raw = err("s = \"ab\ncd\"");
        assert_eq!(raw.span, Span::new(7, 8));
        assert!(raw.message.contains("raw newline"), "{}", raw.message);
        for bad in [
            r#""\u{}""#,
            r#""\u{110000}""#,
            r#""\u{D800}""#,
            r#""\u12""#,
            r#""\u{1234567}""#,
            r#""\u{12"#,
        ] {
            let d = err(bad);
            assert!(d.message.starts_with("invalid unicode escape"), "{bad}: {}", d.message);
            assert_eq!(d.span.start, 1, "{bad}");
        }
    }

    #[test]
    fn unknown_characters_are_named() {
        assert_eq!(err_line("x = $"), "t:1:5: SyntaxError: unexpected character '$'");
        assert_eq!(err_line("a @ b"), "t:1:3: SyntaxError: unexpected character '@'");
        assert_eq!(err("x = é").span, Span::new(4, 6));
        assert!(err_line("x = é").ends_with("unexpected character 'é'"));
        assert!(err_line("!x").contains("write 'not'"));
        assert!(err_line("a && b").contains("write 'and'"));
        assert!(err_line("a || b").contains("write 'or'"));
        assert!(err_line("'hi'").contains("double quotes"));
        assert!(err_line("\u{7}").contains("'\\u{7}'"));
    }

    #[test]
    fn brackets_must_match() {
        assert_eq!(err_line("x)"), "t:1:2: SyntaxError: unmatched ')'");
        assert_eq!(err_line("}"), "t:1:1: SyntaxError: unmatched '}'");
        assert_eq!(
            err_line("f(]"),
            "t:1:3: SyntaxError: closing ']' does not match opening '('"
        );
        assert_eq!(
            err_line("f(\n\n}"),
            "t:3:1: SyntaxError: closing '}' does not match opening '(' on line 1"
        );
        assert_eq!(err_line("f(1,\n2"), "t:1:2: SyntaxError: '(' was never closed");
        assert_eq!(err_line("if x {\n  y\n"), "t:1:6: SyntaxError: '{' was never closed");
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(tokenize(&ok).is_ok());
        let deep = "(".repeat(10_000);
        let d = err(&deep);
        assert!(d.message.starts_with("too deeply nested"), "{}", d.message);
        assert_eq!(d.span, Span::new(MAX_NESTING, MAX_NESTING + 1));
    }

    #[test]
    fn stream_ends_after_an_error() {
        let mut lexer = Lexer::new("x $ y");
        assert!(matches!(lexer.next(), Some(Ok(_))));
        assert!(matches!(lexer.next(), Some(Err(_))));
        assert!(lexer.next().is_none());
    }
}
