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
    If {
        arms: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
    },
    While {
        cond: Expr,
        body: Block,
    },
    /// `for x in e { }` (one var) or `for k, v in e { }` (two vars unpack a 2-item list).
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
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// None for `fn(x) { }`.
    pub name: Option<Ident>,
    pub params: Vec<Ident>,
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
    /// `obj[lo:hi]`, either bound optional.
    Slice {
        obj: Box<Expr>,
        lo: Option<Box<Expr>>,
        hi: Option<Box<Expr>>,
    },
    /// `obj.name` (not followed by a call)
    Field {
        obj: Box<Expr>,
        name: Ident,
    },
    /// `fn(params) { body }` or a named function used as an expression.
    Fn(Rc<FnDef>),
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
