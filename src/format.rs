//! Text forms of values that must match Python exactly: `float_repr` (Python's
//! `repr(float)`, which is also toy's `str` of a float), `format_value` (Python 3.11's
//! `format(value, spec)`) and `quote_str` (a string shown inside a container).
//!
//! Invariant: these are pure functions of their arguments, with no interpreter types, so
//! they can be tested digit for digit against CPython. Floats get their digits from Rust's
//! float formatting (shortest round-trip, or exactly rounded to a number of digits, ties to
//! even like David Gay's dtoa); the layout is then redone the way CPython's
//! `format_float_short` and `formatter_unicode.c` do it, step for step.

/// A value handed to [`format_value`]. `Bool` and `Nil` are not numbers in toy: they
/// format like the strings `true`/`false`/`nil`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FmtArg<'a> {
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Nil,
}

/// Widths and precisions above this are refused: CPython would try to build the string
/// (a gigabyte for `.1000000000f`); toy must never die of one `format` call.
const MAX_FIELD: usize = 1_000_000;

/// Python's `repr(x)` for a float: the shortest digits that read back as `x`, in fixed
/// notation when the decimal exponent is in -4..16 (with `.0` added to whole numbers),
/// otherwise as `d.ddde+XX`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    let body = if x.is_infinite() {
        "inf".to_string()
    } else {
        let (digits, decpt) = digits_shortest(x.abs());
        layout(&digits, decpt, Code::R, 0, true, false, false)
    };
    if x.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// How a string is shown inside a list or map: in double quotes, with `\n \t \r \\ \" \0`
/// escaped and any other control character as `\u{XX}` (lowercase hex, no leading zeros).
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Python 3.11's `format(value, spec)`, for spec
/// `[[fill]align][sign][z][#][0][width][grouping][.precision][type]`.
///
/// Types: `d b o x X n` and `e E f F g G %` for ints, `e E f F g G n %` and none for
/// floats, `s` and none for strings (and bools and nil, which format as their text).
/// `c` is not supported. An `Err` holds the message of the `ValueError` to throw, worded as
/// CPython's with toy's type names.
pub fn format_value(arg: FmtArg, spec: &str) -> Result<String, String> {
    let type_name = match arg {
        FmtArg::Int(_) => "int",
        FmtArg::Float(_) => "float",
        FmtArg::Str(_) => "str",
        FmtArg::Bool(_) => "bool",
        FmtArg::Nil => "nil",
    };
    if spec.is_empty() {
        return Ok(match arg {
            FmtArg::Int(n) => n.to_string(),
            FmtArg::Float(x) => float_repr(x),
            FmtArg::Str(s) => s.to_string(),
            FmtArg::Bool(b) => b.to_string(),
            FmtArg::Nil => "nil".to_string(),
        });
    }
    match arg {
        FmtArg::Int(n) => {
            let f = parse_spec(spec, type_name, Some('d'), '>')?;
            match f.ty {
                Some('d' | 'b' | 'o' | 'x' | 'X' | 'n') => format_int(n, &f),
                // Like CPython: convert to float, then format that.
                Some('e' | 'E' | 'f' | 'F' | 'g' | 'G' | '%') => format_float(n as f64, &f),
                other => Err(unknown_code(other, type_name)),
            }
        }
        FmtArg::Float(x) => {
            let f = parse_spec(spec, type_name, None, '>')?;
            match f.ty {
                None | Some('e' | 'E' | 'f' | 'F' | 'g' | 'G' | 'n' | '%') => format_float(x, &f),
                other => Err(unknown_code(other, type_name)),
            }
        }
        FmtArg::Str(s) => format_text(s, spec, type_name),
        FmtArg::Bool(b) => format_text(if b { "true" } else { "false" }, spec, type_name),
        FmtArg::Nil => format_text("nil", spec, type_name),
    }
}

/// The parsed spec, as CPython's `InternalFormatSpec`.
#[derive(Debug)]
struct Spec {
    fill: char,
    align: char,
    /// `'+'`, `' '` or `'-'` when given.
    sign: Option<char>,
    no_neg_0: bool,
    alt: bool,
    width: Option<usize>,
    /// The thousands separator and its group size (3, or 4 for `_` with `b o x X`).
    grouping: Option<(char, usize)>,
    precision: Option<usize>,
    ty: Option<char>,
}

fn parse_spec(
    spec: &str,
    type_name: &str,
    default_type: Option<char>,
    default_align: char,
) -> Result<Spec, String> {
    let s: Vec<char> = spec.chars().collect();
    let mut pos = 0;
    let mut f = Spec {
        fill: ' ',
        align: default_align,
        sign: None,
        no_neg_0: false,
        alt: false,
        width: None,
        grouping: None,
        precision: None,
        ty: default_type,
    };
    let is_align = |c: char| matches!(c, '<' | '>' | '=' | '^');
    let mut fill_given = false;
    let mut align_given = false;
    if s.len() >= 2 && is_align(s[1]) {
        f.fill = s[0];
        f.align = s[1];
        fill_given = true;
        align_given = true;
        pos = 2;
    } else if !s.is_empty() && is_align(s[0]) {
        f.align = s[0];
        align_given = true;
        pos = 1;
    }
    if pos < s.len() && matches!(s[pos], '+' | '-' | ' ') {
        f.sign = Some(s[pos]);
        pos += 1;
    }
    if pos < s.len() && s[pos] == 'z' {
        f.no_neg_0 = true;
        pos += 1;
    }
    if pos < s.len() && s[pos] == '#' {
        f.alt = true;
        pos += 1;
    }
    // A `0` before the width means zero fill, and sign-aware padding for numbers.
    if !fill_given && pos < s.len() && s[pos] == '0' {
        f.fill = '0';
        if !align_given && default_align == '>' {
            f.align = '=';
        }
        pos += 1;
    }
    f.width = parse_digits(&s, &mut pos)?;
    let mut sep = None;
    if pos < s.len() && s[pos] == ',' {
        sep = Some(',');
        pos += 1;
    }
    if pos < s.len() && s[pos] == '_' {
        if sep.is_some() {
            return Err("Cannot specify both ',' and '_'.".to_string());
        }
        sep = Some('_');
        pos += 1;
    }
    if pos < s.len() && s[pos] == ',' {
        return Err("Cannot specify both ',' and '_'.".to_string());
    }
    if pos < s.len() && s[pos] == '.' {
        pos += 1;
        f.precision = parse_digits(&s, &mut pos)?;
        if f.precision.is_none() {
            return Err("Format specifier missing precision".to_string());
        }
    }
    if s.len() - pos > 1 {
        return Err(format!(
            "Invalid format specifier '{spec}' for object of type '{type_name}'"
        ));
    }
    if pos < s.len() {
        f.ty = Some(s[pos]);
    }
    if let Some(sep) = sep {
        f.grouping = match f.ty {
            Some('d' | 'e' | 'f' | 'g' | 'E' | 'G' | '%' | 'F') | None => Some((sep, 3)),
            Some('b' | 'o' | 'x' | 'X') if sep == '_' => Some((sep, 4)),
            other => {
                return Err(format!(
                    "Cannot specify '{sep}' with {}.",
                    quote_code(other)
                ));
            }
        };
    }
    Ok(f)
}

/// Reads a run of decimal digits at `pos`; `None` when there are none.
fn parse_digits(s: &[char], pos: &mut usize) -> Result<Option<usize>, String> {
    let start = *pos;
    let mut n: usize = 0;
    while *pos < s.len()
        && let Some(d) = s[*pos].to_digit(10)
    {
        n = n.saturating_mul(10).saturating_add(d as usize);
        *pos += 1;
    }
    if *pos == start {
        Ok(None)
    } else if n > MAX_FIELD {
        Err("Too many decimal digits in format string".to_string())
    } else {
        Ok(Some(n))
    }
}

/// A type code as CPython quotes it in messages: `'x'`, or `'\x1'` when not printable.
fn quote_code(code: Option<char>) -> String {
    let c = code.unwrap_or('\0');
    if (c as u32) > 32 && (c as u32) < 128 {
        format!("'{c}'")
    } else {
        format!("'\\x{:x}'", c as u32)
    }
}

fn unknown_code(code: Option<char>, type_name: &str) -> String {
    format!(
        "Unknown format code {} for object of type '{type_name}'",
        quote_code(code)
    )
}

/// Strings (and the text of bools and nil): precision truncates, width pads; widths count
/// code points, as Python's `len` does.
fn format_text(text: &str, spec: &str, type_name: &str) -> Result<String, String> {
    let f = parse_spec(spec, type_name, Some('s'), '<')?;
    if f.ty != Some('s') {
        return Err(unknown_code(f.ty, type_name));
    }
    match f.sign {
        Some(' ') => return Err("Space not allowed in string format specifier".to_string()),
        Some(_) => return Err("Sign not allowed in string format specifier".to_string()),
        None => {}
    }
    if f.no_neg_0 {
        return Err(
            "Negative zero coercion (z) not allowed in string format specifier".to_string(),
        );
    }
    if f.alt {
        return Err("Alternate form (#) not allowed in string format specifier".to_string());
    }
    if f.align == '=' {
        return Err("'=' alignment not allowed in string format specifier".to_string());
    }
    let mut len = text.chars().count();
    let body = match f.precision {
        Some(p) if p < len => {
            len = p;
            text.chars().take(p).collect::<String>()
        }
        _ => text.to_string(),
    };
    let total = f.width.map_or(len, |w| w.max(len));
    let left = match f.align {
        '>' => total - len,
        '^' => (total - len) / 2,
        _ => 0,
    };
    let right = total - len - left;
    let mut out = String::with_capacity(body.len() + (left + right) * f.fill.len_utf8());
    out.extend(std::iter::repeat_n(f.fill, left));
    out.push_str(&body);
    out.extend(std::iter::repeat_n(f.fill, right));
    Ok(out)
}

fn format_int(n: i64, f: &Spec) -> Result<String, String> {
    if f.precision.is_some() {
        return Err("Precision not allowed in integer format specifier".to_string());
    }
    if f.no_neg_0 {
        return Err(
            "Negative zero coercion (z) not allowed in integer format specifier".to_string(),
        );
    }
    let m = n.unsigned_abs();
    let (digits, prefix) = match f.ty {
        Some('b') => (format!("{m:b}"), "0b"),
        Some('o') => (format!("{m:o}"), "0o"),
        Some('x') => (format!("{m:x}"), "0x"),
        Some('X') => (format!("{m:X}"), "0X"),
        _ => (m.to_string(), ""),
    };
    let prefix = if f.alt { prefix } else { "" };
    Ok(render_number(n < 0, prefix, &digits, false, "", f))
}

fn format_float(x: f64, f: &Spec) -> Result<String, String> {
    let mut val = x;
    let mut pct = false;
    let mut add_dot_0 = false;
    let mut default_precision = 6;
    let mut ty = f.ty.unwrap_or('r');
    if f.ty.is_none() {
        // No type: repr's digits, or `g` with at least one digit after the point.
        add_dot_0 = true;
        default_precision = 0;
    }
    if ty == 'n' {
        // `n` is `g` in the locale, and toy's locale is always C.
        ty = 'g';
    }
    if ty == '%' {
        ty = 'f';
        val *= 100.0;
        pct = true;
    }
    let precision = match f.precision {
        Some(p) => {
            if ty == 'r' {
                ty = 'g';
            }
            p
        }
        None => default_precision,
    };
    let upper = matches!(ty, 'E' | 'F' | 'G');
    // Whether the digits, once rounded, are all zero (for `z`).
    let mut is_zero = false;
    let mut text = if val.is_nan() {
        String::from(if upper { "NAN" } else { "nan" })
    } else if val.is_infinite() {
        String::from(if upper { "INF" } else { "inf" })
    } else {
        let a = val.abs();
        let (digits, decpt, code, prec) = match ty.to_ascii_lowercase() {
            'e' => {
                let (d, p) = digits_significant(a, precision + 1);
                (d, p, Code::E, precision as i64 + 1)
            }
            'f' => {
                let (d, p) = digits_fixed(a, precision);
                (d, p, Code::F, precision as i64)
            }
            'g' => {
                let prec = precision.max(1);
                let (d, p) = digits_significant(a, prec);
                (d, p, Code::G, prec as i64)
            }
            _ => {
                let (d, p) = digits_shortest(a);
                (d, p, Code::R, 0)
            }
        };
        is_zero = digits == "0";
        layout(&digits, decpt, code, prec, add_dot_0, f.alt, upper)
    };
    // The sign bit counts (`-0.0` keeps its sign) unless `z` drops it from a zero; a NaN's
    // sign is ignored, as in CPython.
    let negative = val.is_sign_negative() && !val.is_nan() && !(f.no_neg_0 && is_zero);
    if pct {
        text.push('%');
    }
    // Split into integer digits, decimal point and the rest, as CPython's parse_number.
    let int_len = text.bytes().take_while(u8::is_ascii_digit).count();
    let (int_digits, rest) = text.split_at(int_len);
    let (has_decimal, remainder) = match rest.strip_prefix('.') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    Ok(render_number(
        negative,
        "",
        int_digits,
        has_decimal,
        remainder,
        f,
    ))
}

/// Which of CPython's `format_float_short` layouts to use.
#[derive(Clone, Copy, PartialEq)]
enum Code {
    E,
    F,
    G,
    /// repr: shortest digits, exponent outside 1e-4 ..= 1e16.
    R,
}

/// The digits of `a` (>= 0, finite) without trailing zeros, and the position of the
/// decimal point: `a = 0.DIGITS * 10**decpt`. Zero is `("0", 1)`, as dtoa has it.
fn split_exp(s: &str) -> (String, i64) {
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        return (digits, 1);
    }
    (digits, exp.parse::<i64>().unwrap_or(0) + 1)
}

/// dtoa mode 0: the shortest digits that round-trip and, among those, the closest to `a`.
/// Rust finds the shortest length but may break a tie (two candidates equally close)
/// upwards, where dtoa rounds half to even: redo that length correctly rounded and keep it
/// when it still reads back as `a`.
fn digits_shortest(a: f64) -> (String, i64) {
    let (digits, decpt) = split_exp(&format!("{a:e}"));
    let rounded = format!("{a:.*e}", digits.len() - 1);
    if rounded.parse::<f64>() == Ok(a) {
        let (d2, p2) = split_exp(&rounded);
        if d2.len() <= digits.len() {
            return (d2, p2);
        }
    }
    (digits, decpt)
}

/// dtoa mode 2: `n` (>= 1) significant digits, correctly rounded, ties to even.
fn digits_significant(a: f64, n: usize) -> (String, i64) {
    split_exp(&format!("{a:.*e}", n - 1))
}

/// dtoa mode 3: `n` digits after the decimal point, correctly rounded, ties to even.
fn digits_fixed(a: f64, n: usize) -> (String, i64) {
    let s = format!("{a:.n$}");
    let (int_part, frac) = s.split_once('.').unwrap_or((&s, ""));
    let all = format!("{int_part}{frac}");
    let trimmed = all.trim_start_matches('0');
    let decpt = int_part.len() as i64 - (all.len() - trimmed.len()) as i64;
    let digits = trimmed.trim_end_matches('0');
    if digits.is_empty() {
        ("0".to_string(), 1)
    } else {
        (digits.to_string(), decpt)
    }
}

/// CPython's `format_float_short` layout of `0.DIGITS * 10**decpt` (no sign).
fn layout(
    digits: &str,
    mut decpt: i64,
    code: Code,
    precision: i64,
    add_dot_0: bool,
    alt: bool,
    upper: bool,
) -> String {
    let digits_len = digits.len() as i64;
    let mut vend = digits_len;
    let mut use_exp = false;
    match code {
        Code::E => {
            use_exp = true;
            vend = precision;
        }
        Code::F => vend = decpt + precision,
        Code::G => {
            let limit = if add_dot_0 { precision - 1 } else { precision };
            use_exp = decpt <= -4 || decpt > limit;
            if alt {
                vend = precision;
            }
        }
        Code::R => use_exp = decpt <= -4 || decpt > 16,
    }
    let mut exp = 0;
    if use_exp {
        exp = decpt - 1;
        decpt = 1;
    }
    let vstart = if decpt <= 0 { decpt - 1 } else { 0 };
    vend = if !use_exp && add_dot_0 {
        vend.max(decpt + 1)
    } else {
        vend.max(decpt)
    };

    let zeros = |n: i64| "0".repeat(n.max(0) as usize);
    let mut out = String::new();
    if decpt <= 0 {
        out.push_str(&zeros(decpt - vstart));
        out.push('.');
        out.push_str(&zeros(-decpt));
    } else {
        out.push_str(&zeros(-vstart));
    }
    if 0 < decpt && decpt <= digits_len {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    } else {
        out.push_str(digits);
    }
    if digits_len < decpt {
        out.push_str(&zeros(decpt - digits_len));
        out.push('.');
        out.push_str(&zeros(vend - decpt));
    } else {
        out.push_str(&zeros(vend - digits_len));
    }
    if out.ends_with('.') && !alt {
        out.pop();
    }
    if use_exp {
        out.push(if upper { 'E' } else { 'e' });
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    }
    out
}

/// CPython's `calc_number_widths` + `fill_number`: lay out
/// `[lpad][sign][prefix][spad][grouped digits][.remainder][rpad]` within the width.
fn render_number(
    negative: bool,
    prefix: &str,
    digits: &str,
    has_decimal: bool,
    remainder: &str,
    f: &Spec,
) -> String {
    let sign = match (f.sign, negative) {
        (_, true) => Some('-'),
        (Some('+'), false) => Some('+'),
        (Some(' '), false) => Some(' '),
        _ => None,
    };
    let n_sign = sign.is_some() as i64;
    let width = f.width.map_or(-1, |w| w as i64);
    let n_fixed = n_sign + prefix.len() as i64 + has_decimal as i64 + remainder.len() as i64;
    // Zero padding goes into the digits, so that it is grouped like them.
    let min_width = if f.fill == '0' && f.align == '=' {
        width - n_fixed
    } else {
        0
    };
    let grouped = if digits.is_empty() {
        String::new()
    } else {
        group_digits(digits, min_width, f.grouping)
    };
    let padding = width - (n_fixed + grouped.len() as i64);
    let (mut lpad, mut spad, mut rpad) = (0, 0, 0);
    if padding > 0 {
        let p = padding as usize;
        match f.align {
            '<' => rpad = p,
            '^' => {
                lpad = p / 2;
                rpad = p - lpad;
            }
            '=' => spad = p,
            _ => lpad = p,
        }
    }
    let mut out = String::new();
    out.extend(std::iter::repeat_n(f.fill, lpad));
    out.extend(sign);
    out.push_str(prefix);
    out.extend(std::iter::repeat_n(f.fill, spad));
    out.push_str(&grouped);
    if has_decimal {
        out.push('.');
    }
    out.push_str(remainder);
    out.extend(std::iter::repeat_n(f.fill, rpad));
    out
}

/// CPython's `_PyUnicode_InsertThousandsGrouping`: groups `digits` from the right,
/// left-padding with zeros (grouped too) until the result is at least `min_width` long.
fn group_digits(digits: &str, min_width: i64, grouping: Option<(char, usize)>) -> String {
    let digits = digits.as_bytes();
    let mut min_width = min_width.max(0);
    let mut remaining = digits.len() as i64;
    // Built right to left, then reversed: each group is its digits, then its zeros.
    let mut rev: Vec<u8> = Vec::with_capacity(digits.len() * 2);
    let take = |len: i64, remaining: i64, rev: &mut Vec<u8>| -> i64 {
        let n_zeros = (len - remaining).max(0);
        let n_chars = remaining.min(len).max(0);
        let end = remaining as usize;
        rev.extend(digits[end - n_chars as usize..end].iter().rev());
        rev.extend(std::iter::repeat_n(b'0', n_zeros as usize));
        n_chars
    };
    match grouping {
        Some((sep, size)) => loop {
            let len = (size as i64).min(remaining.max(min_width).max(1));
            remaining -= take(len, remaining, &mut rev);
            min_width -= len;
            if remaining <= 0 && min_width <= 0 {
                break;
            }
            min_width -= 1;
            rev.push(sep as u8);
        },
        None => {
            take(remaining.max(min_width).max(1), remaining, &mut rev);
        }
    }
    rev.reverse();
    // Only ASCII digits and ASCII separators were written.
    String::from_utf8(rev).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(arg: FmtArg, spec: &str) -> String {
        format_value(arg, spec).unwrap_or_else(|e| format!("!{e}"))
    }

    #[test]
    fn repr_examples() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e20, "1e+20"),
            (1.5e-7, "1.5e-07"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (1e16, "1e+16"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "nan"),
            (2.5, "2.5"),
            (-7.0 / 2.0, "-3.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e100, "1e+100"),
            (12345.678, "12345.678"),
        ];
        for &(x, want) in cases {
            assert_eq!(float_repr(x), want, "repr of {x:?}");
        }
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14159 is LANGUAGE.md's own example, not pi
    fn format_examples() {
        use FmtArg::*;
        let cases: &[(FmtArg, &str, &str)] = &[
            (Float(3.14159), ".2f", "3.14"),
            (Int(42), ">6", "    42"),
            (Int(1234567), ",", "1,234,567"),
            (Float(0.5), ".1%", "50.0%"),
            (Int(255), "x", "ff"),
            (Int(255), "#X", "0XFF"),
            (Float(1.5), "e", "1.500000e+00"),
            (Int(-5), "05d", "-0005"),
            (Int(42), "<6", "42    "),
            (Int(42), "^6", "  42  "),
            (Int(42), "*^7", "**42***"),
            (Int(42), "+d", "+42"),
            (Int(42), " d", " 42"),
            (Int(-42), "=+8", "-     42"),
            (Int(1234), "08,", "0,001,234"),
            (Int(i64::MIN), "", "-9223372036854775808"),
            (Int(i64::MIN), "x", "-8000000000000000"),
            (Int(5), "b", "101"),
            (Int(8), "o", "10"),
            (Int(3), "f", "3.000000"),
            (Int(1), "%", "100.000000%"),
            (Float(2.5), ".0f", "2"),
            (Float(0.125), ".2f", "0.12"),
            (Float(-0.0), "z.1f", "0.0"),
            (Float(-0.0001), ".2f", "-0.00"),
            (Float(1234.5), ",.2f", "1,234.50"),
            (Float(123.0), ".3", "1.23e+02"),
            (Float(12.0), ".3", "12.0"),
            (Float(1e16), "", "1e+16"),
            (Float(f64::INFINITY), "010", "0000000inf"),
            (Float(f64::NAN), "+F", "+NAN"),
            (Float(0.0001), "g", "0.0001"),
            (Float(0.00001), "g", "1e-05"),
            (Float(1.0), "#.3g", "1.00"),
            (Float(3.0), "10.3f", "     3.000"),
            (Str("ab"), "", "ab"),
            (Str("ab"), "5", "ab   "),
            (Str("ab"), ">5", "   ab"),
            (Str("ab"), "05", "ab000"),
            (Str("héllo"), "^9", "  héllo  "),
            (Str("abc"), ".2", "ab"),
            (Str("abc"), "s", "abc"),
            (Bool(true), "", "true"),
            (Bool(false), ">7", "  false"),
            (Bool(true), "s", "true"),
            (Nil, "", "nil"),
            (Nil, "s", "nil"),
        ];
        for (arg, spec, want) in cases {
            assert_eq!(fmt(*arg, spec), *want, "format({arg:?}, {spec:?})");
        }
    }

    #[test]
    fn format_errors() {
        use FmtArg::*;
        let cases: &[(FmtArg, &str, &str)] = &[
            (
                Float(1.5),
                "d",
                "Unknown format code 'd' for object of type 'float'",
            ),
            (
                Str("a"),
                "d",
                "Unknown format code 'd' for object of type 'str'",
            ),
            (
                Bool(true),
                "d",
                "Unknown format code 'd' for object of type 'bool'",
            ),
            (Nil, "d", "Unknown format code 'd' for object of type 'nil'"),
            (
                Int(1),
                "s",
                "Unknown format code 's' for object of type 'int'",
            ),
            (
                Int(1),
                ".2d",
                "Precision not allowed in integer format specifier",
            ),
            (
                Int(1),
                "abc",
                "Invalid format specifier 'abc' for object of type 'int'",
            ),
            (Str("a"), "+", "Sign not allowed in string format specifier"),
            (
                Str("a"),
                "=5",
                "'=' alignment not allowed in string format specifier",
            ),
            (Str("a"), ",", "Cannot specify ',' with 's'."),
            (Int(1), ",x", "Cannot specify ',' with 'x'."),
            (Int(1), ",_", "Cannot specify both ',' and '_'."),
            (Float(1.5), ".", "Format specifier missing precision"),
            (
                Int(1),
                "99999999999999999999",
                "Too many decimal digits in format string",
            ),
            (
                Float(1.5),
                ".2000000f",
                "Too many decimal digits in format string",
            ),
            (
                Int(1),
                "\u{1}",
                "Unknown format code '\\x1' for object of type 'int'",
            ),
        ];
        for (arg, spec, want) in cases {
            assert_eq!(
                fmt(*arg, spec),
                format!("!{want}"),
                "format({arg:?}, {spec:?})"
            );
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_str("hi"), "\"hi\"");
        assert_eq!(quote_str(""), "\"\"");
        assert_eq!(quote_str("a\nb\tc\rd"), "\"a\\nb\\tc\\rd\"");
        assert_eq!(quote_str("q\"b\\"), "\"q\\\"b\\\\\"");
        assert_eq!(quote_str("\0"), "\"\\0\"");
        assert_eq!(quote_str("\u{1}\u{1b}\u{7f}"), "\"\\u{1}\\u{1b}\\u{7f}\"");
        assert_eq!(quote_str("héllo 😀 日本"), "\"héllo 😀 日本\"");
        assert_eq!(quote_str("'"), "\"'\"");
    }

    /// Thousands of cases whose answers CPython 3.11 gave (tests/data/gen_format_vectors.py).
    #[test]
    fn cpython_vectors() {
        let data = include_str!("../tests/data/format_vectors.txt");
        let bits = |h: &str| f64::from_bits(u64::from_str_radix(h, 16).expect("hex bits"));
        let mut failures = Vec::new();
        let mut count = 0;
        for line in data.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            count += 1;
            let (got, want) = match cols.as_slice() {
                ["R", hex, want] => (float_repr(bits(hex)), *want),
                ["F", kind, value, spec, want] => {
                    let arg = match *kind {
                        "i" => FmtArg::Int(value.parse().expect("int")),
                        "f" => FmtArg::Float(bits(value)),
                        "s" => FmtArg::Str(value),
                        "b" => FmtArg::Bool(*value == "true"),
                        _ => FmtArg::Nil,
                    };
                    (fmt(arg, spec), *want)
                }
                _ => panic!("bad vector line {line:?}"),
            };
            if got != want {
                failures.push(format!("{line}\n    got {got:?}"));
            }
        }
        assert!(count > 7000, "vector file truncated");
        assert!(
            failures.is_empty(),
            "{} of {count} vectors differ from CPython:\n{}",
            failures.len(),
            failures
                .iter()
                .take(40)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
