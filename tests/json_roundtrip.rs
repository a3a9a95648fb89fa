//! `json.decode(json.encode(v)) == v` for generated values: nil, bools, ints, finite
//! floats, strings with any characters, and lists and maps (string keys) nested inside
//! each other. Each value is written as a toy literal and checked by the interpreter.

use proptest::prelude::*;
use toy::Interpreter;

#[derive(Debug, Clone)]
enum Json {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Json>),
    Map(Vec<(String, Json)>),
}

/// `v` as toy source text.
fn literal(v: &Json, out: &mut String) {
    match v {
        Json::Nil => out.push_str("nil"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) if *i == i64::MIN => out.push_str("(-9223372036854775807 - 1)"),
        Json::Int(i) => out.push_str(&format!("({i})")),
        // Rust's `{:?}` of an f64 round-trips and is valid toy (`1e20`, `0.1`, `-0.0`).
        Json::Float(f) => out.push_str(&format!("({f:?})")),
        Json::Str(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Json::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                literal(item, out);
            }
            out.push(']');
        }
        Json::Map(pairs) => {
            out.push('{');
            for (i, (k, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                literal(&Json::Str(k.clone()), out);
                out.push_str(": ");
                literal(item, out);
            }
            out.push('}');
        }
    }
}

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Nil),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Json::Float),
        any::<String>().prop_map(Json::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::List),
            prop::collection::vec((any::<String>(), inner), 0..6).prop_map(Json::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decode_of_encode_is_the_value(v in json(), indent in prop::option::of(0i64..4)) {
        let mut src = String::from("let v = ");
        literal(&v, &mut src);
        src.push('\n');
        let call = match indent {
            Some(n) => format!("json.encode(v, {n})"),
            None => "json.encode(v)".to_string(),
        };
        src.push_str(&format!("json.decode({call}) == v"));
        let mut toy = Interpreter::new();
        let same: bool = toy.eval(&src).map_err(|e| TestCaseError::fail(format!("{e}\n{src}")))?;
        prop_assert!(same, "{}", src);
    }
}
