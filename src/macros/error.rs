//! The one error type of the engine: which macro, where, and what is wrong.
//!
//! Shaped like globset's `Error { glob, kind }`: the input context (macro name and byte offset)
//! plus a typed kind, so the caller can map it to a 4xx response and tests can match variants.

use std::fmt;

/// How many arguments a macro takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Used bare, without parentheses (`$__fromTime`); an empty `()` is tolerated.
    None,
    /// Exactly this many.
    Exactly(u8),
    /// Between the two bounds, inclusive.
    Range(u8, u8),
    /// This many or more.
    AtLeast(u8),
}

impl Arity {
    /// Whether `n` arguments are acceptable.
    pub(crate) fn accepts(self, n: usize) -> bool {
        match self {
            Arity::None => n == 0,
            Arity::Exactly(k) => n == usize::from(k),
            Arity::Range(lo, hi) => (usize::from(lo)..=usize::from(hi)).contains(&n),
            Arity::AtLeast(k) => n >= usize::from(k),
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arity::None => f.write_str("0"),
            Arity::Exactly(k) => write!(f, "{k}"),
            Arity::Range(lo, hi) => write!(f, "{lo}-{hi}"),
            Arity::AtLeast(k) => write!(f, "{k}+"),
        }
    }
}

/// What went wrong with a macro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MacroErrorKind {
    /// Wrong number of arguments.
    Arity {
        /// What the macro takes.
        expected: Arity,
        /// What the query passed.
        received: usize,
    },
    /// A macro that needs `( … )` was used bare or with unbalanced parentheses.
    MissingArguments,
    /// An argument has the wrong shape (bad duration, bucket count, …).
    InvalidArgument(String),
    /// A query option the macro reads is empty (`$__table` without `table`).
    MissingOption(&'static str),
    /// A statement macro is not where it may be (nested, repeated).
    Placement(String),
    /// The SQL around a statement macro has the wrong clauses.
    Clause(String),
    /// A conditional macro names a variable the dashboard does not have.
    UnknownVariable(String),
    /// A conditional macro's last argument is not a `$variable`.
    NotAVariable,
    /// `${var:format}` with a format the engine does not implement.
    UnsupportedFormat(String),
    /// After expansion, a variable or ad hoc value would not sit inside the literal or quoted
    /// identifier it was escaped for (the SQL around it reads differently once macros are
    /// replaced); the query is refused rather than run.
    ValueEscapesLiteral,
}

impl fmt::Display for MacroErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacroErrorKind::Arity { expected, received } => {
                write!(f, "expected {expected} argument(s), received {received}")
            }
            MacroErrorKind::MissingArguments => {
                f.write_str("expects its argument(s) in balanced parentheses")
            }
            MacroErrorKind::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            MacroErrorKind::MissingOption(field) => {
                write!(f, "the query's `{field}` field is empty")
            }
            MacroErrorKind::Placement(why) | MacroErrorKind::Clause(why) => f.write_str(why),
            MacroErrorKind::UnknownVariable(name) => {
                write!(f, "cannot find referenced variable `{name}`")
            }
            MacroErrorKind::NotAVariable => f.write_str("last parameter must be a variable"),
            MacroErrorKind::UnsupportedFormat(fmt_name) => {
                write!(f, "unsupported variable format `{fmt_name}`")
            }
            MacroErrorKind::ValueEscapesLiteral => f.write_str(
                "a variable value would not stay inside its quotes once the macros around it are \
                 expanded; separate the variable from the text next to it",
            ),
        }
    }
}

/// An expansion failure: the macro, its byte offset in the input, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroError {
    /// The macro as written, with its sigil (`$__timeGroup`, `$columns`, `${var}`).
    pub macro_name: String,
    /// Byte offset of the macro in the SQL passed to [`expand`](super::expand).
    pub offset: usize,
    /// What is wrong.
    pub kind: MacroErrorKind,
}

impl fmt::Display for MacroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.macro_name, self.offset, self.kind
        )
    }
}

impl std::error::Error for MacroError {}

impl MacroError {
    pub(crate) fn new(name: &str, offset: usize, kind: MacroErrorKind) -> Self {
        Self {
            macro_name: name.to_string(),
            offset,
            kind,
        }
    }
}
