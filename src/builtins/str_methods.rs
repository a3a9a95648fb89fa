//! The methods of strings, as in Python: case (`upper lower swapcase title capitalize`),
//! trimming and padding (`strip lstrip rstrip ljust rjust center zfill`), splitting and
//! joining (`split rsplit splitlines partition rpartition join`), searching (`find rfind
//! index count startswith endswith`), `replace`, and the tests `isdigit isalpha isspace
//! isupper islower`.
//!
//! Invariant: strings are immutable: every method returns a new value and leaves its
//! receiver as it was.

use super::args::{MethodName, arity, int_arg, items_of, str_arg};
use crate::heap::{Heap, SHORT_STR_BYTES};
use crate::method::Method;
use crate::object::INLINE_STR_MAX;
use crate::value::Value;
use crate::vm::{Vm, VmResult};

type R = VmResult<Value>;

/// The methods `str_methods` implements.
pub(super) const STR_METHODS: &[Method] = &[
    Method::Upper,
    Method::Lower,
    Method::Strip,
    Method::Lstrip,
    Method::Rstrip,
    Method::Split,
    Method::Join,
    Method::Find,
    Method::Replace,
    Method::Startswith,
    Method::Endswith,
    Method::Rfind,
    Method::Count,
    Method::Index,
    Method::Splitlines,
    Method::Partition,
    Method::Rpartition,
    Method::Rsplit,
    Method::Swapcase,
    Method::Title,
    Method::Capitalize,
    Method::Isdigit,
    Method::Isalpha,
    Method::Isspace,
    Method::Isupper,
    Method::Islower,
    Method::Ljust,
    Method::Rjust,
    Method::Center,
    Method::Zfill,
];

pub(super) fn str_methods(vm: &mut Vm, method: Method, recv: Value, args: &[Value]) -> R {
    let Value::Str(id) = recv else {
        unreachable!("the method table gives str methods only strings")
    };
    let s = vm.it.heap.str_share(id);
    let name = MethodName("str", method.name());
    {
        match method {
            Method::Upper | Method::Lower => {
                arity(vm, name, args, 0, 0)?;
                vm.reserve(s.len())?;
                let out = if method == Method::Upper {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                };
                Ok(vm.new_str(out))
            }
            Method::Strip | Method::Lstrip | Method::Rstrip => {
                arity(vm, name, args, 0, 1)?;
                let chars: Option<Vec<char>> = match args.first() {
                    None | Some(Value::Nil) => None,
                    Some(&c) => Some(str_arg(vm, name, c)?.chars().collect()),
                };
                let pred = |c: char| match &chars {
                    Some(set) => set.contains(&c),
                    None => c.is_whitespace(),
                };
                let out = match method {
                    Method::Strip => s.trim_matches(pred),
                    Method::Lstrip => s.trim_start_matches(pred),
                    _ => s.trim_end_matches(pred),
                };
                Ok(vm.new_str(out))
            }
            Method::Split | Method::Rsplit => {
                arity(vm, name, args, 0, 2)?;
                let limit = match args.get(1) {
                    None | Some(Value::Nil) => usize::MAX,
                    Some(&m) => usize::try_from(int_arg(vm, name, m)?).unwrap_or(usize::MAX),
                };
                // The pieces are read from the text in place: each is copied once, into its
                // heap string, not first into a `String` of its own.
                let from_right = method == Method::Rsplit;
                let parts: Vec<&str> = match args.first() {
                    None | Some(Value::Nil) if from_right => rsplit_whitespace(&s, limit),
                    None | Some(Value::Nil) => split_whitespace(&s, limit),
                    Some(&sep) => {
                        let sep = str_arg(vm, name, sep)?;
                        if sep.is_empty() {
                            return Err(vm.error("ValueError", "empty separator"));
                        }
                        split_on(&s, &sep, limit.saturating_add(1), from_right)
                    }
                };
                // Each piece becomes a heap string: a short text split finely grows a lot.
                let bytes = parts.len().saturating_mul(SHORT_STR_BYTES).saturating_add(s.len());
                vm.with_room(|heap| heap.room_for(bytes))?;
                let items: Vec<Value> = parts.into_iter().map(|p| vm.new_str(p)).collect();
                Ok(vm.it.heap.new_list(items))
            }
            Method::Join => {
                arity(vm, name, args, 1, 1)?;
                // A list's items are read where they are; other iterables are expanded.
                let expanded = match args[0] {
                    Value::List(_) => Vec::new(),
                    other => items_of(vm, name, other)?,
                };
                let total = joined_len(&vm.it.heap, s.len(), parts_of(&vm.it.heap, args[0], &expanded));
                let total = match total {
                    Ok(total) => total,
                    Err(i) => {
                        let v = parts_of(&vm.it.heap, args[0], &expanded)[i];
                        let t = v.type_name(&vm.it.heap);
                        return Err(vm.type_error(format!("sequence item {i}: expected str instance, {t} found")));
                    }
                };
                // Joined as bytes: the pieces are each UTF-8, so the whole is, and checking
                // it once is cheaper than checking every short piece on its way out of its slot.
                // The buffer has `INLINE_STR_MAX` bytes to spare at its end, so short pieces
                // (and a short separator, padded) are copied in moves of one fixed size.
                let mut out = vm.string_with_capacity(total + INLINE_STR_MAX as u128)?.into_bytes();
                out.resize(out.capacity(), 0);
                let sep = s.as_bytes();
                let mut padded_sep = [0u8; INLINE_STR_MAX];
                let short_sep = sep.len() <= INLINE_STR_MAX;
                if short_sep {
                    padded_sep[..sep.len()].copy_from_slice(sep);
                }
                let heap = &vm.it.heap;
                let mut at = 0;
                for (i, v) in parts_of(heap, args[0], &expanded).iter().enumerate() {
                    if i > 0 && !sep.is_empty() {
                        if short_sep {
                            out[at..at + INLINE_STR_MAX].copy_from_slice(&padded_sep);
                        } else {
                            out[at..at + sep.len()].copy_from_slice(sep);
                        }
                        at += sep.len();
                    }
                    if let Value::Str(part) = v {
                        at = heap.str_obj(*part).copy_into(&mut out, at);
                    }
                }
                out.truncate(at);
                let out = String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                vm.str_value(out)
            }
            Method::Find | Method::Rfind | Method::Index | Method::Count => {
                arity(vm, name, args, 1, 3)?;
                vm.charge_bytes(s.len());
                let sub = str_arg(vm, name, args[0])?;
                let Some((lo, hi)) = span_args(vm, name, &args[1..], &s)? else {
                    // A window that starts past its end holds not even the empty string.
                    return match method {
                        Method::Count => Ok(Value::Int(0)),
                        Method::Index => Err(vm.error("ValueError", "substring not found")),
                        _ => Ok(Value::Int(-1)),
                    };
                };
                let window = &s[lo..hi];
                let at = |byte: usize| (s[..lo + byte].chars().count()) as i64;
                match method {
                    Method::Count => {
                        let n = if sub.is_empty() {
                            window.chars().count() + 1
                        } else {
                            window.matches(&*sub).count()
                        };
                        Ok(Value::Int(n as i64))
                    }
                    Method::Rfind => Ok(Value::Int(window.rfind(&*sub).map_or(-1, at))),
                    Method::Find => Ok(Value::Int(window.find(&*sub).map_or(-1, at))),
                    _ => match window.find(&*sub) {
                        Some(byte) => Ok(Value::Int(at(byte))),
                        None => Err(vm.error("ValueError", "substring not found")),
                    },
                }
            }
            Method::Replace => {
                arity(vm, name, args, 2, 3)?;
                let old = str_arg(vm, name, args[0])?;
                let new = str_arg(vm, name, args[1])?;
                let limit = match args.get(2) {
                    None | Some(Value::Nil) => usize::MAX,
                    Some(&c) => usize::try_from(int_arg(vm, name, c)?).unwrap_or(usize::MAX),
                };
                let out = if old.is_empty() {
                    // Python inserts the replacement before every character and at the end.
                    let chars = vm.it.heap.str_obj(id).chars as u128;
                    let inserts = (chars + 1).min(limit as u128);
                    let mut o = vm.string_with_capacity(s.len() as u128 + new.len() as u128 * inserts)?;
                    let mut left = limit;
                    for c in s.chars() {
                        if left > 0 {
                            o.push_str(&new);
                            left -= 1;
                        }
                        o.push(c);
                    }
                    if left > 0 {
                        o.push_str(&new);
                    }
                    o
                } else {
                    let hits = s.matches(&*old).take(limit).count() as u128;
                    let len = s.len() as u128 - hits * old.len() as u128 + hits * new.len() as u128;
                    let mut o = vm.string_with_capacity(len)?;
                    let mut last = 0;
                    for (at, _) in s.match_indices(&*old).take(limit) {
                        o.push_str(&s[last..at]);
                        o.push_str(&new);
                        last = at + old.len();
                    }
                    o.push_str(&s[last..]);
                    o
                };
                vm.str_value(out)
            }
            Method::Startswith | Method::Endswith => {
                arity(vm, name, args, 1, 3)?;
                let fix = str_arg(vm, name, args[0])?;
                // Python looks only at `s[start:end]`, and a start past the end matches
                // nothing, not even "".
                let Some((lo, hi)) = span_args(vm, name, &args[1..], &s)? else {
                    return Ok(Value::bool(false));
                };
                let window = &s[lo..hi];
                Ok(Value::bool(if method == Method::Startswith {
                    window.starts_with(&*fix)
                } else {
                    window.ends_with(&*fix)
                }))
            }
            Method::Splitlines => {
                arity(vm, name, args, 0, 1)?;
                let keep = args.first().is_some_and(|k| k.truthy(&vm.it.heap));
                let lines = split_lines(&s, keep);
                let items: Vec<Value> = lines.into_iter().map(|l| vm.new_str(l)).collect();
                Ok(vm.it.heap.new_list(items))
            }
            Method::Partition | Method::Rpartition => {
                arity(vm, name, args, 1, 1)?;
                let sep = str_arg(vm, name, args[0])?;
                if sep.is_empty() {
                    return Err(vm.error("ValueError", "empty separator"));
                }
                let split = if method == Method::Partition {
                    s.split_once(&*sep)
                } else {
                    s.rsplit_once(&*sep)
                };
                // Not found, the whole string is on the side the search started from.
                let (a, b, c) = match split {
                    Some((before, after)) => (before.to_string(), sep.to_string(), after.to_string()),
                    None if method == Method::Partition => (s.to_string(), String::new(), String::new()),
                    None => (String::new(), String::new(), s.to_string()),
                };
                let parts = vec![vm.new_str(a), vm.new_str(b), vm.new_str(c)];
                Ok(vm.it.heap.new_list(parts))
            }
            Method::Swapcase => {
                arity(vm, name, args, 0, 0)?;
                vm.reserve(s.len())?;
                Ok(vm.new_str(swapcase(&s)))
            }
            Method::Title => {
                arity(vm, name, args, 0, 0)?;
                let mut out = String::with_capacity(s.len());
                let mut after_cased = false;
                for c in s.chars() {
                    if after_cased {
                        out.extend(c.to_lowercase());
                    } else {
                        out.extend(c.to_uppercase());
                    }
                    after_cased = is_cased(c);
                }
                Ok(vm.new_str(out))
            }
            Method::Capitalize => {
                arity(vm, name, args, 0, 0)?;
                let mut chars = s.chars();
                let out: String = match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
                    None => String::new(),
                };
                Ok(vm.new_str(out))
            }
            Method::Isdigit | Method::Isalpha | Method::Isspace => {
                arity(vm, name, args, 0, 0)?;
                let test: fn(char) -> bool = match method {
                    Method::Isdigit => |c| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()),
                    Method::Isalpha => char::is_alphabetic,
                    _ => char::is_whitespace,
                };
                Ok(Value::bool(!s.is_empty() && s.chars().all(test)))
            }
            Method::Isupper | Method::Islower => {
                arity(vm, name, args, 0, 0)?;
                let upper = method == Method::Isupper;
                let mut cased = false;
                for c in s.chars().filter(|&c| is_cased(c)) {
                    cased = true;
                    if (upper && c.is_lowercase()) || (!upper && c.is_uppercase()) {
                        return Ok(Value::bool(false));
                    }
                }
                Ok(Value::bool(cased))
            }
            Method::Ljust | Method::Rjust | Method::Center => {
                arity(vm, name, args, 1, 2)?;
                let width = int_arg(vm, name, args[0])?;
                let fill = match args.get(1) {
                    None => ' ',
                    Some(&f) => {
                        let f = str_arg(vm, name, f)?;
                        let mut cs = f.chars();
                        match (cs.next(), cs.next()) {
                            (Some(c), None) => c,
                            _ => {
                                return Err(vm.type_error("The fill character must be exactly one character long"));
                            }
                        }
                    }
                };
                let len = vm.it.heap.str_obj(id).chars as i64;
                let margin = (width - len).max(0);
                let left = match method {
                    Method::Ljust => 0,
                    Method::Rjust => margin,
                    // CPython's rule: the odd cell goes left only when the width is odd.
                    _ => margin / 2 + (margin & width & 1),
                };
                let out = padded(&s, fill, left, margin - left, vm)?;
                Ok(vm.new_str(out))
            }
            Method::Zfill => {
                arity(vm, name, args, 1, 1)?;
                let width = int_arg(vm, name, args[0])?;
                let len = vm.it.heap.str_obj(id).chars as i64;
                let margin = (width - len).max(0);
                let (sign, digits) = match s.strip_prefix(['+', '-']) {
                    Some(rest) => (&s[..1], rest),
                    None => ("", &s[..]),
                };
                let zeros = padded("", '0', margin, 0, vm)?;
                Ok(vm.new_str(format!("{sign}{zeros}{digits}")))
            }
            _ => unreachable!("{} is not a str method", method.name()),
        }
    }
}

/// What `sep.join(x)` joins: a list's own items, or `expanded` (any other iterable's).
fn parts_of<'h>(heap: &'h Heap, x: Value, expanded: &'h [Value]) -> &'h [Value] {
    match x {
        Value::List(id) => heap.list(id),
        _ => expanded,
    }
}

/// The length of `parts` joined by a separator of `sep` bytes, or the index of the first
/// part that is not a string.
fn joined_len(heap: &Heap, sep: usize, parts: &[Value]) -> Result<u128, usize> {
    let mut total = sep as u128 * parts.len().saturating_sub(1) as u128;
    for (i, v) in parts.iter().enumerate() {
        match v {
            Value::Str(part) => total += heap.str_bytes(*part).len() as u128,
            _ => return Err(i),
        }
    }
    Ok(total)
}

/// `s` cut at `sep` into at most `pieces` pieces, from the left or from the right (the
/// pieces then still in order). A one-byte separator from the left (a comma, a newline:
/// nearly every `split`) is found by a plain byte scan: the substring search set up for
/// each piece took twice its instructions on short pieces, and `memchr` (the character
/// search) saved instructions only on long ones (lines of 70 bytes), and no time.
fn split_on<'a>(s: &'a str, sep: &str, pieces: usize, from_right: bool) -> Vec<&'a str> {
    let mut parts: Vec<&str> = match (sep.as_bytes(), from_right) {
        (&[b], false) if b.is_ascii() => split_at_byte(s, b, pieces),
        (_, false) => s.splitn(pieces, sep).collect(),
        (_, true) => s.rsplitn(pieces, sep).collect(),
    };
    if from_right {
        parts.reverse();
    }
    parts
}

/// `s` cut at each ASCII byte `sep`, into at most `pieces` pieces. An ASCII byte never
/// occurs inside a multi-byte character, so every cut falls between characters.
fn split_at_byte(s: &str, sep: u8, pieces: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b == sep && parts.len() + 1 < pieces {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Python's `str.split()` without a separator: runs of whitespace separate, leading and
/// trailing whitespace makes no empty pieces, and after `limit` splits the rest (with its
/// own inner whitespace, trailing whitespace included) is the last piece.
fn split_whitespace(s: &str, limit: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if out.len() == limit {
            out.push(rest);
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(end) => {
                out.push(&rest[..end]);
                rest = rest[end..].trim_start();
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

/// Python's `str.rsplit()` without a separator: `split_whitespace` from the right, so
/// after `limit` splits the rest keeps its leading whitespace.
fn rsplit_whitespace(s: &str, limit: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s.trim_end();
    while !rest.is_empty() {
        if out.len() == limit {
            out.push(rest);
            break;
        }
        match rest.rfind(char::is_whitespace) {
            Some(at) => {
                let gap = rest[at..].chars().next().map_or(1, char::len_utf8);
                out.push(&rest[at + gap..]);
                rest = rest[..at].trim_end();
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out.reverse();
    out
}

/// Python's `str.swapcase()`: upper case letters lowered, lower case ones raised (with
/// the full mappings, so `ß` gives `SS`), the rest kept. A capital sigma lowers to the
/// final `ς` at the end of a word, which only the whole string can tell: it is read from
/// the string lowered at once, where every character before it takes the same bytes as
/// it lowered alone (the two sigmas are both two bytes long).
fn swapcase(s: &str) -> String {
    let lowered = if s.contains('Σ') {
        s.to_lowercase()
    } else {
        String::new()
    };
    let mut at = 0;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == 'Σ' {
            out.extend(lowered[at..].chars().next());
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else if c.is_lowercase() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at += c.to_lowercase().map(char::len_utf8).sum::<usize>();
    }
    out
}

/// Python's `str.splitlines(keepends)`: every line boundary Python knows (`\n`, `\r\n`,
/// `\r`, `\v`, `\f`, `\x1c`–`\x1e`, `\x85`, `\u2028`, `\u2029`), no empty last line.
fn split_lines(s: &str, keep_ends: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_break = matches!(
            c,
            '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
        );
        if !is_break {
            continue;
        }
        let mut end = i + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n') {
            chars.next();
            end += 1;
        }
        out.push(s[start..if keep_ends { end } else { i }].to_string());
        start = end;
    }
    if start < s.len() {
        out.push(s[start..].to_string());
    }
    out
}

/// Whether a character has case (Python's "cased": upper, lower or title case).
fn is_cased(c: char) -> bool {
    c.is_uppercase() || c.is_lowercase()
}

/// The byte range of `s` that optional `[start, end]` code-point arguments select, clamped
/// like a slice (negative counts from the end, nil is open); `None` when the start lies
/// past the end (`"abc".find("", 10)`), where Python finds nothing, not even `""`.
fn span_args(vm: &mut Vm, name: MethodName, bounds: &[Value], s: &str) -> VmResult<Option<(usize, usize)>> {
    let chars = s.chars().count() as i64;
    let mut bound = |i: usize, default: i64| -> VmResult<i64> {
        match bounds.get(i) {
            None | Some(Value::Nil) => Ok(default),
            Some(&v) => {
                let n = int_arg(vm, name, v)?;
                Ok(if n < 0 { (n + chars).max(0) } else { n })
            }
        }
    };
    let (lo, hi) = (bound(0, 0)?, bound(1, chars)?.min(chars));
    if lo > hi {
        return Ok(None);
    }
    let byte_at = |k: i64| s.char_indices().nth(k as usize).map_or(s.len(), |(b, _)| b);
    Ok(Some((byte_at(lo), byte_at(hi))))
}

/// `text` with `left` and `right` copies of `fill` around it; a `MemoryError` if that is
/// more than can be made.
fn padded(text: &str, fill: char, left: i64, right: i64, vm: &mut Vm) -> VmResult<String> {
    let cells = (left + right) as usize;
    let Some(bytes) = cells
        .checked_mul(fill.len_utf8())
        .and_then(|n| n.checked_add(text.len()))
    else {
        return Err(vm.error("MemoryError", "the padded string is too long"));
    };
    let mut out = String::new();
    if out.try_reserve_exact(bytes).is_err() {
        return Err(vm.error("MemoryError", "the padded string is too long"));
    }
    out.extend(std::iter::repeat_n(fill, left as usize));
    out.push_str(text);
    out.extend(std::iter::repeat_n(fill, right as usize));
    Ok(out)
}
