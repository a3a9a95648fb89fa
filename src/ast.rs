//! The syntax tree the parser builds and the compiler consumes.
//!
//! Invariant: every node carries the byte span (`start..end` into the source) it was parsed
//! from, so any later error — a name that is declared nowhere, a bad assignment target, a
//! runtime error's line — can point back at the source text.

use std::rc::Rc;

/// A half-open byte range into the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let name` or `let name = value`
    Let {
        name: Ident,
        value: Option<Expr>,
    },
    /// `let a, b = value`: `value` must be a list of exactly as many items (a comma list on
    /// the right is parsed as a list literal).
    LetUnpack {
        names: Vec<Ident>,
        value: Expr,
    },
    /// `fn name(params) { body }` in statement position: declares `name`.
    FnDecl(Rc<FnDef>),
    /// `target = value` (`op` is None) or `target op= value` (`+= -= *= /= //= %=`).
    /// `target` is a `Name`, `Index` or `Field` expression; the parser rejects others.
    Assign {
        target: Expr,
        op: Option<BinOp>,
        value: Expr,
    },
    /// `if c { } else if d { } else { }`: one arm per condition, then the optional else.
    /// `a, b = value` / `xs[i], xs[j] = xs[j], xs[i]`: the right side is evaluated first,
    /// then its items are assigned to the targets left to right.
    AssignMany {
        targets: Vec<Expr>,
        value: Expr,
    },
    If {
        arms: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for x in e { }` (one var), or `for k, v in e { }` (two or more vars unpack each item,
    /// a list of that many items).
    For {
        vars: Vec<Ident>,
        iter: Expr,
        body: Block,
    },
    With {
        subject: Expr,
        body: Block,
    },
    /// `try { body } catch e { handler }`; the catch name may be omitted.
    Try {
        body: Block,
        var: Option<Ident>,
        handler: Block,
    },
    Throw(Expr),
    Return(Option<Expr>),
    Break,
    Continue,
    Expr(Expr),
    /// `import a.b` (binds `b`) or `import a.b as x`.
    Import {
        path: Vec<Ident>,
        alias: Option<Ident>,
    },
    /// `from a.b import x, y as z`: copies of the module's globals, bound here.
    FromImport {
        path: Vec<Ident>,
        names: Vec<(Ident, Option<Ident>)>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// None for `fn(x) { }`.
    pub name: Option<Ident>,
    pub params: Vec<Ident>,
    /// The default values of the last `defaults.len()` parameters (defaults come after the
    /// parameters without one), evaluated each time the `fn` runs.
    pub defaults: Vec<Expr>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// The string's value, escapes already decoded.
    Str(String),
    Name(String),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Short-circuit `and`, yields an operand.
    And(Box<Expr>, Box<Expr>),
    /// Short-circuit `or`, yields an operand.
    Or(Box<Expr>, Box<Expr>),
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    /// `obj.name(args)`
    MethodCall {
        obj: Box<Expr>,
        name: Ident,
        args: Vec<Expr>,
    },
    /// `obj[index]`
    Index {
        obj: Box<Expr>,
        index: Box<Expr>,
    },
    /// `obj[lo:hi]` or `obj[lo:hi:step]`, each part optional (`obj[lo:hi:]` has no step).
    Slice {
        obj: Box<Expr>,
        lo: Option<Box<Expr>>,
        hi: Option<Box<Expr>>,
        step: Option<Box<Expr>>,
    },
    /// `obj.name` (not followed by a call)
    Field {
        obj: Box<Expr>,
        name: Ident,
    },
    /// `fn(params) { body }` or a named function used as an expression.
    Fn(Rc<FnDef>),
    /// `f"text {expr:spec} text"`.
    FString(Vec<FStrPart>),
    /// `[elem for x in xs if c ...]`.
    ListComp {
        elem: Box<Expr>,
        clauses: Vec<CompClause>,
    },
    /// `{key: value for x in xs if c ...}`.
    MapComp {
        key: Box<Expr>,
        value: Box<Expr>,
        clauses: Vec<CompClause>,
    },
}

/// A piece of an f-string.
#[derive(Clone, Debug, PartialEq)]
pub enum FStrPart {
    Text(String),
    /// `{expr}` is `str(expr)`; `{expr:spec}` is `format(expr, spec)`.
    Field {
        expr: Expr,
        spec: Option<String>,
    },
}

/// A clause of a comprehension, read left to right as nested `for` and `if` statements.
#[derive(Clone, Debug, PartialEq)]
pub enum CompClause {
    /// `for a in xs` or `for a, b in pairs`: the names are the comprehension's own,
    /// fresh on each iteration.
    For {
        vars: Vec<Ident>,
        iter: Expr,
    },
    If(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl BinOp {
    /// The operator as written in source, for messages and the disassembler.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
        }
    }
}
