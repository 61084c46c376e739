//! One validated, store-ready field value, and the row digest over such values.

use polars::prelude::PlSmallStr;
use sha2::{Digest, Sha256};

/// A field as it is stored: identifiers already pseudonymised, times in UTC microseconds,
/// dates in days since 1970-01-01.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Null,
    /// Text of up to 24 bytes is held inline (`PlSmallStr`): most fields of a log row.
    Str(PlSmallStr),
    Bool(bool),
    Int(i32),
    Date(i32),
    Timestamp(i64),
    U32(u32),
    U64(u64),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Feeds an unambiguous encoding of the value to a hasher.
    fn feed(&self, h: &mut Sha256) {
        match self {
            Value::Null => h.update([0u8]),
            Value::Str(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            Value::Bool(b) => h.update([2u8, u8::from(*b)]),
            Value::Int(i) => {
                h.update([3u8]);
                h.update(i.to_be_bytes());
            }
            Value::Date(d) => {
                h.update([4u8]);
                h.update(d.to_be_bytes());
            }
            Value::Timestamp(t) => {
                h.update([5u8]);
                h.update(t.to_be_bytes());
            }
            Value::U32(u) => {
                h.update([7u8]);
                h.update(u.to_be_bytes());
            }
            Value::U64(u) => {
                h.update([6u8]);
                h.update(u.to_be_bytes());
            }
        }
    }
}

/// First 8 bytes of SHA-256 over the values, big-endian: the stored `digest` column.
pub fn digest(values: &[Value]) -> u64 {
    let mut h = Sha256::new();
    for v in values {
        v.feed(&mut h);
    }
    let out = h.finalize();
    u64::from_be_bytes(out[..8].try_into().expect("sha256 has 32 bytes"))
}

/// A 128-bit identity of a row's key values, for de-duplication without keeping the keys.
pub fn key_hash<'a>(key_values: impl IntoIterator<Item = &'a Value>) -> u128 {
    let mut h = Sha256::new();
    for v in key_values {
        v.feed(&mut h);
    }
    let out = h.finalize();
    u128::from_be_bytes(out[..16].try_into().expect("sha256 has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_tells_field_boundaries_and_types_apart() {
        let a = digest(&[Value::Str("ab".into()), Value::Str("c".into())]);
        let b = digest(&[Value::Str("a".into()), Value::Str("bc".into())]);
        assert_ne!(a, b);
        assert_ne!(digest(&[Value::Int(1)]), digest(&[Value::Date(1)]));
        assert_ne!(
            digest(&[Value::Null]),
            digest(&[Value::Str(PlSmallStr::EMPTY)])
        );
        assert_eq!(
            a,
            digest(&[Value::Str("ab".into()), Value::Str("c".into())])
        );
    }
}
