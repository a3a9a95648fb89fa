//! The common message read without the decoder: a payload that is exactly `[kind, scalar]`
//! — an int kind and a nil, bool, int, float or string — as almost every small message
//! between two interpreters or processes is. Reading it in place costs a few compares where
//! the general decoder would open a list, make room for two items and hand the receiver a
//! list it only takes apart again.
//!
//! Invariant: [`decode_pair`] answers only for a payload the general decoder accepts, and
//! then with the very parts it would put in that list; for any other payload it answers
//! `None` and the caller decodes it in full (which also reports what is wrong with it).

use super::decode::Builder;
use super::format::{TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_LIST, TAG_NIL, TAG_STR, TAG_TRUE, VERSION};

/// Where the value's tag is: after the version, the list's tag and count, and the kind.
const VALUE_AT: usize = 1 + 9 + 9;

/// The payload's first bytes when it is a two-item list whose first item is an int.
const HEAD: [u8; 11] = [VERSION, TAG_LIST, 2, 0, 0, 0, 0, 0, 0, 0, TAG_INT];

/// The kind and value of a payload `[int, scalar]`, built through `builder`; `None` when
/// the payload is anything else.
pub fn decode_pair<B: Builder>(payload: &[u8], builder: &mut B) -> Option<(i64, B::Value)> {
    let (head, rest) = payload.split_first_chunk::<VALUE_AT>()?;
    if head[..HEAD.len()] != HEAD {
        return None;
    }
    let kind = i64::from_le_bytes(*head[HEAD.len()..].first_chunk::<8>()?);
    let (&tag, body) = rest.split_first()?;
    let value = match (tag, body.len()) {
        (TAG_NIL, 0) => builder.nil(),
        (TAG_FALSE, 0) => builder.bool(false),
        (TAG_TRUE, 0) => builder.bool(true),
        (TAG_INT, 8) => builder.int(i64::from_le_bytes(*body.first_chunk::<8>()?)),
        (TAG_FLOAT, 8) => builder.float(f64::from_bits(u64::from_le_bytes(*body.first_chunk::<8>()?))),
        (TAG_STR, _) => {
            let (len, text) = body.split_first_chunk::<8>()?;
            if u64::from_le_bytes(*len) != text.len() as u64 {
                return None;
            }
            let s = std::str::from_utf8(text).ok()?;
            if s.is_ascii() {
                builder.ascii_str(s)
            } else {
                builder.str(s)
            }
        }
        _ => return None,
    };
    Some((kind, value))
}
