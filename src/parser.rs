//! The parser: runs the lexer and the LR parser generated from grammar/toy.lalrpop, and
//! turns whatever goes wrong into one `Diagnostic` a Python programmer can act on.
//!
//! Invariants owned here: `parse` never panics, on any input; every syntax error becomes
//! exactly one `SyntaxError` diagnostic with a span into the source; and no syntax tree
//! deeper than `MAX_DEPTH` nodes is ever built (the grammar's actions call the helpers
//! below, which count depth bottom-up), so later recursive passes — and dropping the tree —
//! cannot overflow the stack however long an operator chain is.

use crate::ast::{
    BinOp, Block, CompClause, Expr, ExprKind, FStrPart, FnDef, Ident, Program, Span, Stmt, StmtKind, UnOp,
};
use crate::error::Diagnostic;
use crate::lexer::{FPiece, Lexer, Token};
use lalrpop_util::ParseError;
use std::rc::Rc;

// Generated code: its style is lalrpop's business, not ours.
lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all)]
    grammar,
    "/toy.rs"
);

/// The deepest syntax tree the parser builds, counting every expression, statement and
/// block on the way down from a top-level statement.
pub const MAX_DEPTH: u32 = 1000;

/// Parses a whole program.
pub fn parse(source: &str) -> Result<Program, Diagnostic> {
    grammar::ProgramParser::new()
        .parse(Lexer::new(source))
        .map_err(|err| diagnose(err, source))
}

/// Whether `source` stops inside an open `(`, `[` or `{`: the interactive prompt then reads
/// another line instead of reporting an error.
pub fn is_incomplete(source: &str) -> bool {
    let mut lexer = Lexer::new(source);
    for item in lexer.by_ref() {
        if item.is_err() {
            break;
        }
    }
    lexer.ended_inside_bracket()
}

// ---------------------------------------------------------------- grammar support

/// A node being built, with the depth of the tree under it (a leaf is 1).
pub(crate) struct D<T> {
    v: T,
    d: u32,
}

type PError = ParseError<usize, Token, Diagnostic>;
type Built<T> = Result<D<T>, PError>;

fn user(message: impl Into<String>, span: Span) -> PError {
    ParseError::User {
        error: Diagnostic::syntax(message, span),
    }
}

/// Checks the depth of a new node whose deepest child is `child_depth` deep.
fn depth(child_depth: u32, span: Span) -> Result<u32, PError> {
    let d = child_depth + 1;
    if d > MAX_DEPTH {
        let message = format!("too deeply nested (the syntax tree is over {MAX_DEPTH} levels deep)");
        return Err(user(message, span));
    }
    Ok(d)
}

fn unzip(items: Vec<D<Expr>>) -> (Vec<Expr>, u32) {
    let d = items.iter().map(|e| e.d).max().unwrap_or(0);
    (items.into_iter().map(|e| e.v).collect(), d)
}

fn leaf(kind: ExprKind, l: usize, r: usize) -> D<Expr> {
    D {
        v: Expr {
            kind,
            span: Span::new(l, r),
        },
        d: 1,
    }
}

fn expr(kind: ExprKind, l: usize, r: usize, child_depth: u32) -> Built<Expr> {
    let span = Span::new(l, r);
    let d = depth(child_depth, span)?;
    Ok(D {
        v: Expr { kind, span },
        d,
    })
}

fn unary(op: UnOp, e: D<Expr>, l: usize, r: usize) -> Built<Expr> {
    expr(ExprKind::Unary(op, Box::new(e.v)), l, r, e.d)
}

fn binary(op: BinOp, a: D<Expr>, b: D<Expr>, l: usize, r: usize) -> Built<Expr> {
    let d = a.d.max(b.d);
    expr(ExprKind::Binary(op, Box::new(a.v), Box::new(b.v)), l, r, d)
}

fn logic(is_and: bool, a: D<Expr>, b: D<Expr>, l: usize, r: usize) -> Built<Expr> {
    let d = a.d.max(b.d);
    let (a, b) = (Box::new(a.v), Box::new(b.v));
    let kind = if is_and {
        ExprKind::And(a, b)
    } else {
        ExprKind::Or(a, b)
    };
    expr(kind, l, r, d)
}

/// `a < b < c`: the grammar parses the chain only to reject it with a clear message.
fn no_chain(l: usize, r: usize) -> Built<Expr> {
    Err(user(
        "comparisons cannot be chained (write 'a < b and b < c')",
        Span::new(l, r),
    ))
}

/// A call; `obj.name(args)` becomes a method call. A parenthesized `(obj.name)(args)`
/// stays a plain call of the field's value: `paren` widened its span past the name.
fn call(f: D<Expr>, args: Vec<D<Expr>>, l: usize, r: usize) -> Built<Expr> {
    let (args, args_d) = unzip(args);
    let d = f.d.max(args_d);
    let span = f.v.span;
    match f.v.kind {
        ExprKind::Field { obj, name } if span.end == name.span.end => {
            expr(ExprKind::MethodCall { obj, name, args }, l, r, d)
        }
        kind => {
            let callee = Box::new(Expr { kind, span });
            expr(ExprKind::Call { callee, args }, l, r, d)
        }
    }
}

fn index(o: D<Expr>, i: D<Expr>, l: usize, r: usize) -> Built<Expr> {
    let d = o.d.max(i.d);
    expr(
        ExprKind::Index {
            obj: Box::new(o.v),
            index: Box::new(i.v),
        },
        l,
        r,
        d,
    )
}

fn slice(
    o: D<Expr>,
    lo: Option<D<Expr>>,
    hi: Option<D<Expr>>,
    step: Option<D<Expr>>,
    l: usize,
    r: usize,
) -> Built<Expr> {
    let depth = |e: &Option<D<Expr>>| e.as_ref().map_or(0, |e| e.d);
    let d = o.d.max(depth(&lo)).max(depth(&hi)).max(depth(&step));
    let part = |e: Option<D<Expr>>| e.map(|e| Box::new(e.v));
    expr(
        ExprKind::Slice {
            obj: Box::new(o.v),
            lo: part(lo),
            hi: part(hi),
            step: part(step),
        },
        l,
        r,
        d,
    )
}

fn field(o: D<Expr>, name: Ident, l: usize, r: usize) -> Built<Expr> {
    let d = o.d;
    expr(
        ExprKind::Field {
            obj: Box::new(o.v),
            name,
        },
        l,
        r,
        d,
    )
}

/// `(e)` is `e` with its span widened to cover the parentheses.
fn paren(mut e: D<Expr>, l: usize, r: usize) -> D<Expr> {
    e.v.span = Span::new(l, r);
    e
}

fn list(items: Vec<D<Expr>>, l: usize, r: usize) -> Built<Expr> {
    let (items, d) = unzip(items);
    expr(ExprKind::List(items), l, r, d)
}

fn map(entries: Vec<(D<Expr>, D<Expr>)>, l: usize, r: usize) -> Built<Expr> {
    let d = entries.iter().map(|(k, v)| k.d.max(v.d)).max().unwrap_or(0);
    let entries = entries.into_iter().map(|(k, v)| (k.v, v.v)).collect();
    expr(ExprKind::Map(entries), l, r, d)
}

/// A parameter as written: its name and its default value, if any.
pub(crate) struct Param {
    name: Ident,
    default: Option<D<Expr>>,
}

/// A function definition and the depth of its body; parameter names must be distinct, and
/// parameters with a default come after those without one. Checked with a set, so a
/// function with a huge parameter list is refused in linear time.
fn func(
    name: Option<Ident>,
    params: Vec<Param>,
    body: D<Block>,
    l: usize,
    r: usize,
) -> Result<(Rc<FnDef>, u32), PError> {
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    let mut names = Vec::with_capacity(params.len());
    let mut defaults = Vec::new();
    let mut d = body.d;
    for p in params {
        if !seen.insert(p.name.name.clone()) {
            return Err(user(format!("duplicate parameter '{}'", p.name.name), p.name.span));
        }
        match p.default {
            Some(v) => {
                d = d.max(v.d);
                defaults.push(v.v);
            }
            None if !defaults.is_empty() => {
                return Err(user(
                    format!(
                        "parameter '{}' without a default follows a parameter with a default",
                        p.name.name
                    ),
                    p.name.span,
                ));
            }
            None => {}
        }
        names.push(p.name);
    }
    let def = FnDef {
        name,
        params: names,
        defaults,
        body: body.v,
        span: Span::new(l, r),
    };
    Ok((Rc::new(def), d))
}

/// `a, b, c` on the right of `=`: a list of those values.
fn expr_list(first: D<Expr>, rest: Vec<D<Expr>>, l: usize, r: usize) -> Built<Expr> {
    let mut items = vec![first];
    items.extend(rest);
    list(items, l, r)
}

/// `let a, b = value`; the names must be distinct.
fn let_unpack(first: Ident, rest: Vec<Ident>, v: D<Expr>, l: usize, r: usize) -> Built<Stmt> {
    let mut names = vec![first];
    names.extend(rest);
    for (i, n) in names.iter().enumerate() {
        if names[..i].iter().any(|m| m.name == n.name) {
            return Err(user(format!("'{}' appears twice on the left of '='", n.name), n.span));
        }
    }
    let d = v.d;
    stmt(StmtKind::LetUnpack { names, value: v.v }, l, r, d)
}

/// `a, b = value`: several targets, each a name, an item, a slice or a field.
fn assign_many(first: D<Expr>, rest: Vec<D<Expr>>, v: D<Expr>, l: usize, r: usize) -> Built<Stmt> {
    let mut targets = vec![first];
    targets.extend(rest);
    let mut d = v.d;
    for t in &targets {
        check_target(&t.v, None)?;
        d = d.max(t.d);
    }
    let targets = targets.into_iter().map(|t| t.v).collect();
    stmt(StmtKind::AssignMany { targets, value: v.v }, l, r, d)
}

/// `f"..."`: each field's expression is parsed where it stands in the source, so its errors
/// point inside the string.
fn fstring(pieces: Vec<FPiece>, l: usize, r: usize) -> Built<Expr> {
    let mut parts = Vec::with_capacity(pieces.len());
    let mut d = 0;
    for piece in pieces {
        match piece {
            FPiece::Text(text) => parts.push(FStrPart::Text(text)),
            FPiece::Field { expr: src, at, spec } => {
                let e = grammar::EmbeddedParser::new()
                    .parse(Lexer::at(&src, l + at))
                    .map_err(|err| {
                        let mut error = diagnose_at(err, &src, l + at);
                        // The field ended, not the file.
                        error.message = error.message.replace("end of file", "end of the f-string field");
                        ParseError::User { error }
                    })?;
                d = d.max(e.d);
                parts.push(FStrPart::Field { expr: e.v, spec });
            }
        }
    }
    expr(ExprKind::FString(parts), l, r, d)
}

/// `[elem for ...]` (no key) or `{key: elem for ...}`.
fn comprehension(
    key: Option<D<Expr>>,
    elem: D<Expr>,
    clauses: Vec<(CompClause, u32)>,
    l: usize,
    r: usize,
) -> Built<Expr> {
    let d = clauses
        .iter()
        .map(|(_, d)| *d)
        .max()
        .unwrap_or(0)
        .max(elem.d)
        .max(key.as_ref().map_or(0, |k| k.d));
    let clauses = clauses.into_iter().map(|(c, _)| c).collect();
    let kind = match key {
        None => ExprKind::ListComp {
            elem: Box::new(elem.v),
            clauses,
        },
        Some(k) => ExprKind::MapComp {
            key: Box::new(k.v),
            value: Box::new(elem.v),
            clauses,
        },
    };
    expr(kind, l, r, d)
}

fn stmt(kind: StmtKind, l: usize, r: usize, child_depth: u32) -> Built<Stmt> {
    let span = Span::new(l, r);
    let d = depth(child_depth, span)?;
    Ok(D {
        v: Stmt { kind, span },
        d,
    })
}

fn block(stmts: Vec<D<Stmt>>, l: usize, r: usize) -> Built<Block> {
    let span = Span::new(l, r);
    let d = depth(stmts.iter().map(|s| s.d).max().unwrap_or(0), span)?;
    Ok(D {
        v: Block {
            stmts: stmts.into_iter().map(|s| s.v).collect(),
            span,
        },
        d,
    })
}

/// `target = value` or `target op= value`; only names, items and fields can be assigned.
fn assign(t: D<Expr>, op: Option<BinOp>, v: D<Expr>, l: usize, r: usize) -> Built<Stmt> {
    check_target(&t.v, op)?;
    let d = t.d.max(v.d);
    stmt(
        StmtKind::Assign {
            target: t.v,
            op,
            value: v.v,
        },
        l,
        r,
        d,
    )
}

/// Refuses what cannot be assigned to, naming it.
fn check_target(t: &Expr, op: Option<BinOp>) -> Result<(), PError> {
    let what = match &t.kind {
        ExprKind::Name(_) | ExprKind::Index { .. } | ExprKind::Field { .. } | ExprKind::Slice { .. } => None,
        ExprKind::Call { .. } => Some("a function call"),
        ExprKind::MethodCall { .. } => Some("a method call"),
        ExprKind::Nil | ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) => {
            Some("a literal")
        }
        ExprKind::List(_) | ExprKind::ListComp { .. } => Some("a list literal"),
        ExprKind::MapComp { .. } => Some("a map literal"),
        ExprKind::FString(_) => Some("a literal"),
        ExprKind::Map(_) => Some("a map literal"),
        ExprKind::Fn(_) => Some("a function"),
        ExprKind::Binary(op, ..) if is_comparison(*op) => Some("a comparison"),
        _ => Some("an expression"),
    };
    if let Some(what) = what {
        // A plain `=` where a comparison was meant is the likely slip, as Python suggests.
        let hint = if op.is_none() { " (did you mean '=='?)" } else { "" };
        return Err(user(format!("cannot assign to {what}{hint}"), t.span));
    }
    Ok(())
}

fn is_comparison(op: BinOp) -> bool {
    use BinOp::*;
    matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | NotIn)
}

// ---------------------------------------------------------------- error messages

/// Turns a lalrpop error into one diagnostic.
fn diagnose(err: PError, source: &str) -> Diagnostic {
    diagnose_at(err, source, 0)
}

/// Like `diagnose`, for `source` that starts at byte `base` of the file: token positions
/// are the file's, the text looked at is `source`'s.
fn diagnose_at(err: PError, source: &str, base: usize) -> Diagnostic {
    match err {
        ParseError::User { error } => error,
        ParseError::InvalidToken { location } => {
            // Only lalrpop's built-in lexer reports this; ours never does. Stay total.
            Diagnostic::syntax("invalid token", Span::new(location, location))
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let message = match wanted(&expected) {
                Wanted::Few(list) | Wanted::AfterExpression(Some(list)) => {
                    format!("expected {list}")
                }
                Wanted::Expression => "unexpected end of file (expected an expression)".to_owned(),
                Wanted::AfterExpression(None) | Wanted::Many => "unexpected end of file".to_owned(),
            };
            Diagnostic::syntax(message, Span::new(location, location))
        }
        ParseError::UnrecognizedToken {
            token: (l, token, r),
            expected,
        } => {
            let wanted = wanted(&expected);
            let found = describe(&token, source, l - base, r - base);
            let hint = hint(&token, &expected, source, l - base, matches!(wanted, Wanted::Few(_)));
            let message = match wanted {
                Wanted::Few(list) => format!("expected {list}{hint}"),
                _ if !hint.is_empty() => format!("unexpected {found}{hint}"),
                Wanted::Expression => format!("unexpected {found} (expected an expression)"),
                Wanted::AfterExpression(Some(list)) => {
                    format!("unexpected {found}, expected {list}")
                }
                Wanted::AfterExpression(None) | Wanted::Many => format!("unexpected {found}"),
            };
            Diagnostic::syntax(message, Span::new(l, r))
        }
        ParseError::ExtraToken { token: (l, token, r) } => Diagnostic::syntax(
            format!("unexpected {}", describe(&token, source, l - base, r - base)),
            Span::new(l, r),
        ),
    }
}

/// What the parser would have accepted where it stopped, boiled down for a message.
enum Wanted {
    /// At most three specific tokens, e.g. `')' or ','`.
    Few(String),
    /// An expression has to come next.
    Expression,
    /// An expression could go on with an operator; otherwise one of these (if few) fits.
    AfterExpression(Option<String>),
    /// Too many possibilities to be worth listing.
    Many,
}

/// Operators that can continue an expression (binary ones, and postfix openers).
const CONTINUATIONS: &[&str] = &[
    "and", "or", "not", "in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "//", "%", "**", ".", "(", "[",
];

fn wanted(expected: &[String]) -> Wanted {
    let bare: Vec<&str> = expected.iter().map(|t| t.trim_matches('"')).collect();
    let has = |t: &str| bare.contains(&t);
    // A binary operator in the list means an expression just ended and could go on.
    let continues = has("and") || has("+") || has("==");
    let mut names: Vec<String> = Vec::new();
    for t in &bare {
        let name = terminal_name(t);
        let skipped = continues && CONTINUATIONS.contains(t);
        if !skipped && !names.contains(&name) {
            names.push(name);
        }
    }
    let list = match names.as_slice() {
        [one] => Some(one.clone()),
        [init @ .., last] if (2..=3).contains(&names.len()) => Some(format!("{} or {last}", init.join(", "))),
        _ => None,
    };
    if continues {
        Wanted::AfterExpression(list.filter(|_| names.len() <= 2))
    } else if let Some(list) = list {
        Wanted::Few(list)
    } else if has("int") && !has(";") {
        Wanted::Expression
    } else {
        Wanted::Many
    }
}

/// How a grammar terminal (without lalrpop's quotes) reads in a message.
fn terminal_name(terminal: &str) -> String {
    match terminal {
        "name" => "a name".to_owned(),
        "int" | "float" => "a number".to_owned(),
        "string" | "fstring" => "a string".to_owned(),
        ";" => "a newline".to_owned(),
        _ => format!("'{terminal}'"),
    }
}

/// The found token as the user wrote it.
fn describe(token: &Token, source: &str, l: usize, r: usize) -> String {
    let text = source.get(l..r).unwrap_or("");
    match token {
        Token::Semi if text == "\n" => "newline".to_owned(),
        Token::Ident(name) => format!("name '{name}'"),
        Token::Int(_) | Token::Float(_) => format!("number {text}"),
        Token::Str(_) | Token::FStr(_) => {
            let shown: String = text.chars().take(24).collect();
            if shown.len() < text.len() {
                format!("string {shown}...")
            } else {
                format!("string {shown}")
            }
        }
        _ => format!("'{text}'"),
    }
}

/// A hint for slips a Python programmer is likely to make, or "". `listed` says the
/// message already lists what was expected, which makes some hints redundant.
fn hint(token: &Token, expected: &[String], source: &str, l: usize, listed: bool) -> String {
    let expects = |t: &str| expected.iter().any(|e| e.trim_matches('"') == t);
    let before = source.get(..l).unwrap_or(source);
    let trimmed = before.trim_end();
    let gap = &before[trimmed.len()..];
    let word_start = trimmed
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let prev_word = &trimmed[word_start..];
    let newline = source.get(l..l + 1) == Some("\n");
    let hint = match token {
        Token::Else if gap.contains('\n') => "'else' must be on the same line as the '}' before it",
        Token::Colon if expects("{") => "blocks are written '{ ... }', not with ':'",
        Token::Semi if newline && expects("{") => "the '{' must be on the same line",
        Token::Assign if !expects("=") && (!listed || expects("{")) => "use '==' to compare",
        _ if prev_word == "elif" => "write 'else if'",
        _ if prev_word == "def" => "functions are declared with 'fn'",
        _ => return String::new(),
    };
    format!(" ({hint})")
}

#[cfg(test)]
mod tests {
    use super::*;

    // ---- a compact printer, so expected trees fit on one line

    fn e(x: &Expr) -> String {
        let list = |xs: &[Expr]| xs.iter().map(e).collect::<Vec<_>>().join(" ");
        match &x.kind {
            ExprKind::Nil => "nil".into(),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Int(n) => n.to_string(),
            ExprKind::Float(f) => format!("{f:?}"),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::List(xs) => format!("[{}]", list(xs)),
            ExprKind::Map(kv) => {
                let kv: Vec<String> = kv.iter().map(|(k, v)| format!("{}:{}", e(k), e(v))).collect();
                format!("{{{}}}", kv.join(" "))
            }
            ExprKind::Unary(UnOp::Neg, a) => format!("(neg {})", e(a)),
            ExprKind::Unary(UnOp::Not, a) => format!("(not {})", e(a)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), e(a), e(b)),
            ExprKind::And(a, b) => format!("(and {} {})", e(a), e(b)),
            ExprKind::Or(a, b) => format!("(or {} {})", e(a), e(b)),
            ExprKind::Call { callee, args } => format!("(call {} {})", e(callee), list(args)),
            ExprKind::MethodCall { obj, name, args } => {
                format!("(.{} {} {})", name.name, e(obj), list(args))
            }
            ExprKind::Index { obj, index } => format!("(idx {} {})", e(obj), e(index)),
            ExprKind::Slice {
                obj,
                lo,
                hi,
                step: None,
            } => {
                let o = |b: &Option<Box<Expr>>| b.as_deref().map_or("_".into(), e);
                format!("(slice {} {} {})", e(obj), o(lo), o(hi))
            }
            ExprKind::Slice {
                obj,
                lo,
                hi,
                step: Some(step),
            } => {
                let o = |b: &Option<Box<Expr>>| b.as_deref().map_or("_".into(), e);
                format!("(slice {} {} {} {})", e(obj), o(lo), o(hi), e(step))
            }
            ExprKind::Field { obj, name } => format!("(. {} {})", e(obj), name.name),
            ExprKind::Fn(def) => f(def),
            ExprKind::FString(parts) => {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|p| match p {
                        FStrPart::Text(t) => format!("{t:?}"),
                        FStrPart::Field { expr, spec: None } => format!("{{{}}}", e(expr)),
                        FStrPart::Field { expr, spec: Some(s) } => format!("{{{}:{s}}}", e(expr)),
                    })
                    .collect();
                format!("(f {})", parts.join(" "))
            }
            ExprKind::ListComp { elem, clauses } => format!("(listcomp {} {})", e(elem), c(clauses)),
            ExprKind::MapComp { key, value, clauses } => {
                format!("(mapcomp {}:{} {})", e(key), e(value), c(clauses))
            }
        }
    }

    fn c(clauses: &[CompClause]) -> String {
        let parts: Vec<String> = clauses
            .iter()
            .map(|cl| match cl {
                CompClause::For { vars, iter } => {
                    let vars: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                    format!("for {} {}", vars.join(","), e(iter))
                }
                CompClause::If(x) => format!("if {}", e(x)),
            })
            .collect();
        parts.join(" ")
    }

    fn f(def: &FnDef) -> String {
        let first_default = def.params.len() - def.defaults.len();
        let params: Vec<String> = def
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| match i.checked_sub(first_default) {
                Some(d) => format!("{}={}", p.name, e(&def.defaults[d])),
                None => p.name.clone(),
            })
            .collect();
        let name = def.name.as_ref().map_or(String::new(), |n| format!(" {}", n.name));
        format!("(fn{name} ({}) {})", params.join(" "), b(&def.body))
    }

    fn b(block: &Block) -> String {
        format!("{{{}}}", block.stmts.iter().map(s).collect::<Vec<_>>().join("; "))
    }

    fn s(stmt: &Stmt) -> String {
        match &stmt.kind {
            StmtKind::Let { name, value: None } => format!("(let {})", name.name),
            StmtKind::Let { name, value: Some(v) } => format!("(let {} {})", name.name, e(v)),
            StmtKind::FnDecl(def) => format!("(decl {})", f(def)),
            StmtKind::Assign { target, op, value } => {
                let op = op.map_or(String::new(), |o| o.symbol().to_owned());
                format!("({op}= {} {})", e(target), e(value))
            }
            StmtKind::If { arms, otherwise } => {
                let mut out = String::from("(if");
                for (c, body) in arms {
                    out += &format!(" {} {}", e(c), b(body));
                }
                if let Some(o) = otherwise {
                    out += &format!(" else {}", b(o));
                }
                out + ")"
            }
            StmtKind::While { cond, body } => format!("(while {} {})", e(cond), b(body)),
            StmtKind::For { vars, iter, body } => {
                let vars: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                format!("(for {} {} {})", vars.join(","), e(iter), b(body))
            }
            StmtKind::With { subject, body } => format!("(with {} {})", e(subject), b(body)),
            StmtKind::Try { body, var, handler } => {
                let var = var.as_ref().map_or("_", |v| v.name.as_str());
                format!("(try {} {var} {})", b(body), b(handler))
            }
            StmtKind::Throw(x) => format!("(throw {})", e(x)),
            StmtKind::Return(None) => "(return)".into(),
            StmtKind::Return(Some(x)) => format!("(return {})", e(x)),
            StmtKind::Break => "(break)".into(),
            StmtKind::Continue => "(continue)".into(),
            StmtKind::Expr(x) => e(x),
            StmtKind::LetUnpack { names, value } => {
                let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
                format!("(let {} {})", names.join(","), e(value))
            }
            StmtKind::AssignMany { targets, value } => {
                let targets: Vec<String> = targets.iter().map(e).collect();
                format!("(= {} {})", targets.join(","), e(value))
            }
            StmtKind::Import { path, alias } => {
                let path: Vec<&str> = path.iter().map(|n| n.name.as_str()).collect();
                let alias = alias.as_ref().map_or(String::new(), |a| format!(" as {}", a.name));
                format!("(import {}{alias})", path.join("."))
            }
            StmtKind::FromImport { path, names } => {
                let path: Vec<&str> = path.iter().map(|n| n.name.as_str()).collect();
                let names: Vec<String> = names
                    .iter()
                    .map(|(n, a)| match a {
                        Some(a) => format!("{} as {}", n.name, a.name),
                        None => n.name.clone(),
                    })
                    .collect();
                format!("(from {} import {})", path.join("."), names.join(","))
            }
        }
    }

    /// The program as one line, statements separated by "; ".
    fn p(source: &str) -> String {
        match parse(source) {
            Ok(program) => program.body.iter().map(s).collect::<Vec<_>>().join("; "),
            Err(d) => panic!("unexpected error:\n{}", d.render("t", source)),
        }
    }

    fn err(source: &str) -> Diagnostic {
        match parse(source) {
            Ok(program) => panic!("{source:?} parsed: {program:?}"),
            Err(d) => d,
        }
    }

    /// The first line of the rendered error: `t:line:col: SyntaxError: message`.
    fn err_line(source: &str) -> String {
        err(source).render("t", source).lines().next().unwrap_or("").to_owned()
    }

    // ---- precedence and associativity

    #[test]
    fn power_binds_tighter_than_unary_minus() {
        assert_eq!(p("-2 ** 2"), "(neg (** 2 2))");
        assert_eq!(p("2 ** -1"), "(** 2 (neg 1))");
        assert_eq!(p("2 ** 3 ** 2"), "(** 2 (** 3 2))");
        assert_eq!(p("-x.y ** 2"), "(neg (** (. x y) 2))");
        assert_eq!(p("- - x"), "(neg (neg x))");
    }

    #[test]
    fn arithmetic_levels() {
        assert_eq!(p("1 + 2 * 3"), "(+ 1 (* 2 3))");
        assert_eq!(p("1 - 2 - 3"), "(- (- 1 2) 3)");
        assert_eq!(p("a * b / c // d % e"), "(% (// (/ (* a b) c) d) e)");
        assert_eq!(p("-a * b"), "(* (neg a) b)");
        assert_eq!(p("(1 + 2) * 3"), "(* (+ 1 2) 3)");
    }

    #[test]
    fn logic_and_comparison_levels() {
        assert_eq!(p("a or b and c"), "(or a (and b c))");
        assert_eq!(p("a and b or c"), "(or (and a b) c)");
        assert_eq!(p("a or b or c"), "(or (or a b) c)");
        assert_eq!(p("not a == b"), "(not (== a b))");
        assert_eq!(p("not a and b"), "(and (not a) b)");
        assert_eq!(p("not not a"), "(not (not a))");
        assert_eq!(p("a + 1 < b * 2"), "(< (+ a 1) (* b 2))");
        assert_eq!(p("x in xs"), "(in x xs)");
        assert_eq!(p("x not in xs"), "(not in x xs)");
        assert_eq!(p("not x in xs"), "(not (in x xs))");
        assert_eq!(
            p("a != b or c >= d and e <= f"),
            "(or (!= a b) (and (>= c d) (<= e f)))"
        );
    }

    #[test]
    fn comparisons_do_not_chain() {
        assert_eq!(
            err_line("a < b < c"),
            "t:1:7: SyntaxError: comparisons cannot be chained (write 'a < b and b < c')"
        );
        assert!(err_line("a == b == c").contains("cannot be chained"));
        assert!(err_line("x in a not in b").contains("cannot be chained"));
        assert_eq!(p("(a < b) < c"), "(< (< a b) c)");
    }

    #[test]
    fn postfix_forms() {
        assert_eq!(p("f(a, b)"), "(call f a b)");
        assert_eq!(p("f(a, b,)"), "(call f a b)");
        assert_eq!(p("f()"), "(call f )");
        assert_eq!(p("f(1)(2)"), "(call (call f 1) 2)");
        assert_eq!(p("x[i]"), "(idx x i)");
        assert_eq!(p("x[a:b]"), "(slice x a b)");
        assert_eq!(p("x[a:]"), "(slice x a _)");
        assert_eq!(p("x[:b]"), "(slice x _ b)");
        assert_eq!(p("x[:]"), "(slice x _ _)");
        assert_eq!(p("x[::2]"), "(slice x _ _ 2)");
        assert_eq!(p("x[a:b:-c]"), "(slice x a b (neg c))");
        // An empty third part is no step, as in Python: the plain slice.
        assert_eq!(p("x[a:b:]"), "(slice x a b)");
        assert_eq!(p("x[::]"), "(slice x _ _)");
        assert_eq!(p("m.name"), "(. m name)");
        assert_eq!(p("x.name(1, 2)"), "(.name x 1 2)");
        assert_eq!(p("a.b.c(1).d"), "(. (.c (. a b) 1) d)");
        assert_eq!(p("xs[0][1:2]"), "(slice (idx xs 0) 1 2)");
        // Parenthesized, a field is fetched first and then called.
        assert_eq!(p("(m.f)(1)"), "(call (. m f) 1)");
    }

    #[test]
    fn method_call_node() {
        let program = parse("xs.append(1)").unwrap();
        let StmtKind::Expr(call) = &program.body[0].kind else {
            panic!()
        };
        let ExprKind::MethodCall { name, .. } = &call.kind else {
            panic!("{call:?}")
        };
        assert_eq!((name.name.as_str(), name.span), ("append", Span::new(3, 9)));
        assert_eq!(call.span, Span::new(0, 12));
    }

    // ---- literals

    #[test]
    fn literal_forms() {
        assert_eq!(
            p(r#"[1, 1_000, 0xff, 1.5, 1e9, 2.5e-3, "a\tb", true, false, nil]"#),
            r#"[1 1000 255 1.5 1000000000.0 0.0025 "a\tb" true false nil]"#
        );
        assert_eq!(p(r#""\n\t\r\\\"\0\u{1F600}""#), r#""\n\t\r\\\"\0😀""#);
        assert_eq!(p("[]"), "[]");
        assert_eq!(p("[1, 2,]"), "[1 2]");
        assert_eq!(p("[\n1,\n2\n]"), "[1 2]");
        assert_eq!(p("{}"), "{}");
        assert_eq!(p(r#"{"a": 1, 2: nil,}"#), r#"{"a":1 2:nil}"#);
    }

    #[test]
    fn map_literal_newlines_stand_in_for_commas() {
        let src = "let m = {\n    \"a\": 1,\n    \"b\": 2,          # trailing comma\n}\n";
        assert_eq!(p(src), r#"(let m {"a":1 "b":2})"#);
        assert_eq!(
            p("let m = {\n  \"a\": 1\n  \"b\": [2,\n 3]\n}"),
            r#"(let m {"a":1 "b":[2 3]})"#
        );
        assert_eq!(p("m = {\n  1: {\n    2: 3\n  }\n  4: 5\n}"), "(= m {1:{2:3} 4:5})");
        assert_eq!(p("m = {\n}"), "(= m {})");
        assert_eq!(p("m = {1: 2\n, 3: 4}"), "(= m {1:2 3:4})");
        assert_eq!(err_line("m = {\n  \"a\"\n  : 1 }"), "t:2:6: SyntaxError: expected ':'");
        assert_eq!(
            err_line("m = {\"a\": 1 \"b\": 2}"),
            "t:1:13: SyntaxError: unexpected string \"b\""
        );
    }

    #[test]
    fn function_expressions_and_declarations() {
        assert_eq!(
            p("fn add(a, b) { return a + b }"),
            "(decl (fn add (a b) {(return (+ a b))}))"
        );
        assert_eq!(p("let f = fn(x) { return x }"), "(let f (fn (x) {(return x)}))");
        assert_eq!(p("let f = fn fact(n) { }"), "(let f (fn fact (n) {}))");
        assert_eq!(
            p("spawn(fn() {\n  work()\n}, 1)"),
            "(call spawn (fn () {(call work )}) 1)"
        );
        assert_eq!(p("fn(x) { return x }(3)"), "(call (fn (x) {(return x)}) 3)");
        // At statement start a named fn is a declaration, so what follows is a new statement.
        assert_eq!(p("fn f() {} (1)"), "(decl (fn f () {})); 1");
        assert_eq!(p("fn f(a,) {}"), "(decl (fn f (a) {}))");
        assert_eq!(
            err_line("fn f(a, b, a) {}"),
            "t:1:12: SyntaxError: duplicate parameter 'a'"
        );
    }

    // ---- statements

    #[test]
    fn statement_forms() {
        assert_eq!(p("let x"), "(let x)");
        assert_eq!(p("let x = 1"), "(let x 1)");
        assert_eq!(
            p("x = 2; xs[0] = 5; m.count = 0"),
            "(= x 2); (= (idx xs 0) 5); (= (. m count) 0)"
        );
        assert_eq!(
            p("x += 1; x -= 1; x *= 2; x /= 2; x //= 2; x %= 2"),
            "(+= x 1); (-= x 1); (*= x 2); (/= x 2); (//= x 2); (%= x 2)"
        );
        assert_eq!(p("if c { } else if d { } else { }"), "(if c {} d {} else {})");
        assert_eq!(p("if c { a } else if d { b }"), "(if c {a} d {b})");
        assert_eq!(p("while c { break; continue }"), "(while c {(break); (continue)})");
        assert_eq!(p("for x in xs { }"), "(for x xs {})");
        assert_eq!(p("for k, v in m.items() { }"), "(for k,v (.items m ) {})");
        assert_eq!(p("with lock { }"), "(with lock {})");
        assert_eq!(p("try { } catch e { }"), "(try {} e {})");
        assert_eq!(p("try { } catch { }"), "(try {} _ {})");
        assert_eq!(
            p("throw error(\"ValueError\", \"bad\")"),
            "(throw (call error \"ValueError\" \"bad\"))"
        );
        assert_eq!(p("fn f() { return }"), "(decl (fn f () {(return)}))");
        assert_eq!(p("fn f() { return\n}"), "(decl (fn f () {(return)}))");
        assert_eq!(p("fn f() {\n return\n x\n}"), "(decl (fn f () {(return); x}))");
        assert_eq!(p("{\"a\": 1}"), "{\"a\":1}");
    }

    #[test]
    fn block_statements_need_no_separator() {
        assert_eq!(
            p("fn f(n) { if n < 2 { return n } return f(n - 1) }"),
            "(decl (fn f (n) {(if (< n 2) {(return n)}); (return (call f (- n 1)))}))"
        );
        assert_eq!(p("while a { } x = 1"), "(while a {}); (= x 1)");
        assert_eq!(p("for i in r { } for j in r { }"), "(for i r {}); (for j r {})");
        assert_eq!(p("fn a() {} fn b() {}"), "(decl (fn a () {})); (decl (fn b () {}))");
        assert_eq!(
            err_line("x = 1 y = 2"),
            "t:1:7: SyntaxError: unexpected name 'y', expected a newline or ','"
        );
    }

    #[test]
    fn separators_and_blank_lines() {
        assert_eq!(p(""), "");
        assert_eq!(p("\n\n# only a comment\n"), "");
        assert_eq!(p(";;x;;"), "x");
        assert_eq!(p("x\n\n\ny"), "x; y");
        assert_eq!(p("if a {\n\n  x\n\n  y\n\n}\n\nz\n"), "(if a {x; y}); z");
        assert_eq!(p("if a { ; x ; }"), "(if a {x})");
        assert_eq!(p("x = 1 +\n  2"), "(= x (+ 1 2))");
        assert_eq!(p("f(1,\n  2)\n"), "(call f 1 2)");
    }

    #[test]
    fn else_must_follow_the_brace_on_the_same_line() {
        let src = "if x > 0 {\n    print(\"pos\")\n} else {\n    print(\"neg\")\n}\n";
        assert_eq!(
            p(src),
            "(if (> x 0) {(call print \"pos\")} else {(call print \"neg\")})"
        );
        let bad = "if x > 0 {\n    print(\"pos\")\n}\nelse {\n}\n";
        assert_eq!(
            err(bad).render("demo.toy", bad),
            "demo.toy:4:1: SyntaxError: unexpected 'else' ('else' must be on the same line as \
             the '}' before it)\n    else {\n    ^\n"
        );
    }

    #[test]
    fn assignment_targets_are_checked() {
        assert_eq!(
            err_line("f() = 3"),
            "t:1:1: SyntaxError: cannot assign to a function call (did you mean '=='?)"
        );
        assert!(err_line("x.f() += 1").contains("cannot assign to a method call"));
        assert!(err_line("1 = x").contains("cannot assign to a literal"));
        assert!(err_line("a + b = c").contains("cannot assign to an expression"));
        assert!(err_line("a < b = c").contains("cannot assign to a comparison"));
        assert_eq!(p("xs[1:2] = c"), "(= (slice xs 1 2) c)");
        assert!(err_line("[a, b] = c").contains("cannot assign to a list literal"));
        assert_eq!(p("(x) = 1"), "(= x 1)");
    }

    // ---- error messages

    #[test]
    fn the_language_of_this_release_parses() {
        assert_eq!(p("let a, b = 1, 2"), "(let a,b [1 2])");
        assert_eq!(p("let x = 1, 2"), "(let x [1 2])");
        assert_eq!(p("a, b = b, a"), "(= a,b [b a])");
        assert_eq!(p("xs[i], m.k = 1, 2"), "(= (idx xs i),(. m k) [1 2])");
        assert_eq!(p("for a, b, c in xs { }"), "(for a,b,c xs {})");
        assert_eq!(p("fn f(a, b = 2, c = [1]) { }"), "(decl (fn f (a b=2 c=[1]) {}))");
        assert_eq!(
            p("return_ = [x * x for x in xs if x % 2]"),
            "(= return_ (listcomp (* x x) for x xs if (% x 2)))"
        );
        assert_eq!(
            p("y = {k: v for k, v in m.items()}"),
            "(= y (mapcomp k:v for k,v (.items m )))"
        );
        assert_eq!(
            p("z = [[i, j] for i in a for j in b if i]"),
            "(= z (listcomp [i j] for i a for j b if i))"
        );
        assert_eq!(
            p(r#"s = f"a {x} b {y + 1:>4} {{c}}""#),
            r#"(= s (f "a " {x} " b " {(+ y 1):>4} " {c}"))"#
        );
        assert_eq!(p("import a.b as c"), "(import a.b as c)");
        assert_eq!(p("from a import x, y as z"), "(from a import x,y as z)");
    }

    #[test]
    fn errors_in_the_new_syntax_point_where_they_are() {
        assert_eq!(
            err_line(r#"print(f"a {x +} b")"#),
            "t:1:15: SyntaxError: unexpected end of the f-string field (expected an expression)"
        );
        assert_eq!(
            err_line(r#"print(f"a } b")"#),
            "t:1:11: SyntaxError: single '}' is not allowed in an f-string (write '}}' for a brace)"
        );
        assert_eq!(
            err_line(r#"print(f"{a "b"}")"#),
            "t:1:12: SyntaxError: an f-string expression cannot contain '\"' (nor end the string)"
        );
        assert_eq!(
            err_line("fn f(a = 1, b) { }"),
            "t:1:13: SyntaxError: parameter 'b' without a default follows a parameter with a default"
        );
        assert_eq!(
            err_line("fn f(a, b, a) { }"),
            "t:1:12: SyntaxError: duplicate parameter 'a'"
        );
        assert_eq!(
            err_line("let a, a = 1, 2"),
            "t:1:8: SyntaxError: 'a' appears twice on the left of '='"
        );
        assert_eq!(
            err_line("f(), x = 1, 2"),
            "t:1:1: SyntaxError: cannot assign to a function call (did you mean '=='?)"
        );
    }

    #[test]
    fn error_message_forms() {
        assert_eq!(
            err_line("print(1 2)"),
            "t:1:9: SyntaxError: unexpected number 2, expected ')' or ','"
        );
        assert_eq!(
            err_line("x = 1 y"),
            "t:1:7: SyntaxError: unexpected name 'y', expected a newline or ','"
        );
        assert_eq!(
            err_line("if x y {}"),
            "t:1:6: SyntaxError: unexpected name 'y', expected '{'"
        );
        assert_eq!(
            err_line("f(,)"),
            "t:1:3: SyntaxError: unexpected ',' (expected an expression)"
        );
        assert_eq!(err_line("a not b"), "t:1:7: SyntaxError: expected 'in'");
        assert_eq!(err_line("x[1:2:3:4]"), "t:1:8: SyntaxError: expected ']'");
        assert_eq!(err_line("let = 3"), "t:1:5: SyntaxError: expected a name");
        assert_eq!(err_line("try { }"), "t:1:8: SyntaxError: expected 'catch'");
        assert_eq!(err_line("try {}\ncatch e {}"), "t:1:7: SyntaxError: expected 'catch'");
        assert_eq!(err_line("for x y"), "t:1:7: SyntaxError: expected 'in' or ','");
        assert_eq!(err_line("if x {} else"), "t:1:13: SyntaxError: expected 'if' or '{'");
        assert_eq!(
            err_line("let x =\n"),
            "t:1:8: SyntaxError: unexpected end of file (expected an expression)"
        );
        assert_eq!(
            err_line("x = (1 +)"),
            "t:1:9: SyntaxError: unexpected ')' (expected an expression)"
        );
        assert_eq!(err_line("f(a;b)"), "t:1:4: SyntaxError: expected ')' or ','");
        assert_eq!(
            err_line("x = ;"),
            "t:1:5: SyntaxError: unexpected ';' (expected an expression)"
        );
        assert_eq!(
            err_line("x = \"a\" \"b\""),
            "t:1:9: SyntaxError: unexpected string \"b\", expected a newline or ','"
        );
        assert_eq!(err_line("x = [1, 2]\n.len()"), "t:2:1: SyntaxError: unexpected '.'");
        assert_eq!(err_line("else"), "t:1:1: SyntaxError: unexpected 'else'");
        assert_eq!(err_line("f(1, 2"), "t:1:2: SyntaxError: '(' was never closed");
        // A bare block is not a statement: `{` starts a map literal.
        assert_eq!(err_line("{ x }"), "t:1:5: SyntaxError: expected ':'");
    }

    #[test]
    fn found_tokens_are_quoted_as_written() {
        let src = "x\n1;\"a long string literal that goes on\" 4.5";
        let tokens = crate::lexer::tokenize(src).unwrap();
        let said: Vec<String> = tokens.iter().map(|(l, t, r)| describe(t, src, *l, *r)).collect();
        assert_eq!(
            said,
            [
                "name 'x'",
                "newline",
                "number 1",
                "';'",
                "string \"a long string literal t...",
                "number 4.5"
            ]
        );
    }

    #[test]
    fn error_rendering_matches_the_contract() {
        let src = "fn f(a) {\n  return a\n}\nlet y = f(1,\n  2\n  print(y)\n";
        let rendered = err(src).render("demo.toy", src);
        assert_eq!(
            rendered,
            "demo.toy:6:3: SyntaxError: unexpected name 'print', expected ')' or ','\n      \
             print(y)\n      ^\n"
        );
        let src = "x = foo(1 2)\n";
        assert_eq!(
            err(src).render("demo.toy", src),
            "demo.toy:1:11: SyntaxError: unexpected number 2, expected ')' or ','\n    \
             x = foo(1 2)\n              ^\n"
        );
    }

    #[test]
    fn hints_for_python_habits() {
        assert!(err_line("if x: pass").contains("blocks are written '{ ... }'"));
        assert!(err_line("while x:\n  y").contains("blocks are written '{ ... }'"));
        assert!(err_line("if a {} elif b {}").ends_with("(write 'else if')"));
        assert!(err_line("def f(x):").ends_with("(functions are declared with 'fn')"));
        assert_eq!(
            err_line("if x = 1 { }"),
            "t:1:6: SyntaxError: expected '{' (use '==' to compare)"
        );
        assert_eq!(
            err_line("if x\n{ }"),
            "t:1:5: SyntaxError: expected '{' (the '{' must be on the same line)"
        );
        // Non-ASCII text before the error must not trip the hint scanner.
        assert!(err_line("x = (1 + #éabc\n )").contains("unexpected ')'"));
    }

    // ---- robustness

    #[test]
    fn ten_thousand_open_parens_is_an_error_not_a_crash() {
        let d = err(&format!("x = {}", "(".repeat(10_000)));
        assert!(d.message.starts_with("too deeply nested"), "{}", d.message);
        let d = err(&format!("x = {}1{}", "(".repeat(10_000), ")".repeat(10_000)));
        assert!(d.message.starts_with("too deeply nested"), "{}", d.message);
    }

    #[test]
    fn long_operator_chains_are_bounded() {
        for op in ["+", "*", "**", " and ", " or ", "."] {
            let src = format!("x = {}", vec!["a"; 20_000].join(op));
            let d = err(&src);
            assert!(d.message.starts_with("too deeply nested"), "{op}: {}", d.message);
        }
        for prefix in ["-", "not "] {
            let d = err(&format!("x = {}a", prefix.repeat(20_000)));
            assert!(d.message.starts_with("too deeply nested"), "{prefix}: {}", d.message);
        }
        let d = err(&format!("x = a{}", "()".repeat(20_000)));
        assert!(d.message.starts_with("too deeply nested"));
        // A few hundred levels is fine.
        assert!(parse(&format!("x = {}", vec!["a"; 500].join(" + "))).is_ok());
        let nested = format!("x = {}1{}", "[".repeat(199), "]".repeat(199));
        assert!(parse(&nested).is_ok());
        // Long flat lists and `else if` chains are not deep.
        assert!(parse(&format!("x = [{}]", vec!["1"; 50_000].join(", "))).is_ok());
        let chain = format!("if a {{}}{}", " else if b {}".repeat(20_000));
        assert!(parse(&chain).is_ok());
    }

    #[test]
    fn is_incomplete_tracks_open_brackets() {
        assert!(is_incomplete("if x {"));
        assert!(is_incomplete("fn f(a,\n"));
        assert!(is_incomplete("let xs = [1,"));
        assert!(is_incomplete("f(fn() {\n  x\n"));
        assert!(!is_incomplete("x = 1"));
        assert!(!is_incomplete("if x { }"));
        assert!(!is_incomplete("x = )"));
        assert!(!is_incomplete("f($"));
        assert!(!is_incomplete(""));
    }

    /// A deterministic mini-fuzzer: random soups of tokens and junk must never panic.
    #[test]
    fn random_inputs_never_panic() {
        const PIECES: &[&str] = &[
            "x", "1", "2.5", "\"s\"", "\"\\u{", "\"", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "\n", "=",
            "+=", "+", "-", "*", "**", "/", "//", "%", "==", "<", "not", "in", "and", "or", "let", "fn", "if", "else",
            "while", "for", "return", "break", "try", "catch", "throw", "with", "nil", "é", "#c\n", " ", "0x", "1_",
            "$", "\\",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut source = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                source.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
                source.push(' ');
            }
            if let Err(d) = parse(&source) {
                assert_eq!(d.kind, "SyntaxError");
                let _ = d.render("t", &source);
            }
            let _ = is_incomplete(&source);
        }
    }
}
