//! The Dutch citizen service number (BSN) and its 11-check.

/// A BSN that passed the 11-check, normalised to nine digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bsn(String);

/// Why a value is not a BSN. The messages never repeat the value: it may be a real BSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BsnError {
    NotDigits,
    WrongLength(usize),
    FailsElevenCheck,
}

impl std::fmt::Display for BsnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BsnError::NotDigits => write!(f, "is not a BSN: it holds characters other than digits"),
            BsnError::WrongLength(n) => write!(f, "is not a BSN: it has {n} digits, a BSN has 9"),
            BsnError::FailsElevenCheck => write!(f, "is not a BSN: it fails the 11-check"),
        }
    }
}

impl Bsn {
    /// Parses a BSN. Eight digits are accepted and padded with a leading zero, because
    /// spreadsheets drop it; a value of all zeros is refused.
    pub fn parse(text: &str) -> Result<Bsn, BsnError> {
        Self::parse_number(text).map(|n| Bsn(format!("{n:09}")))
    }

    /// The BSN as a number (what `parse` gives, without making its text).
    pub fn parse_number(text: &str) -> Result<u32, BsnError> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BsnError::NotDigits);
        }
        let mut digits = [b'0'; 9];
        match text.len() {
            n @ (8 | 9) => digits[9 - n..].copy_from_slice(text.as_bytes()),
            n => return Err(BsnError::WrongLength(n)),
        }
        if !Self::passes_eleven_check(&digits) {
            return Err(BsnError::FailsElevenCheck);
        }
        Ok(digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    }

    /// The 11-check: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a multiple of 11 and not zero.
    pub fn passes_eleven_check(digits: &[u8]) -> bool {
        if digits.len() != 9 || !digits.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let sum: i64 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let d = i64::from(d - b'0');
                if i == 8 {
                    -d
                } else {
                    d * (9 - i as i64)
                }
            })
            .sum();
        sum != 0 && sum % 11 == 0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Replaces every run of nine digits (also written with dots or spaces as 1234.56.789 or
/// 1234 56 789) that passes the 11-check by `[bsn]`. Used on free text such as emergency reasons.
pub fn redact_bsns(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            // Collect up to nine digits, allowing single '.' or ' ' separators between them.
            let mut digits = Vec::with_capacity(9);
            let mut j = i;
            while j < bytes.len() && digits.len() < 10 {
                if bytes[j].is_ascii_digit() {
                    digits.push(bytes[j]);
                    j += 1;
                } else if (bytes[j] == b'.' || bytes[j] == b' ')
                    && j + 1 < bytes.len()
                    && bytes[j + 1].is_ascii_digit()
                    && !digits.is_empty()
                {
                    j += 1;
                } else {
                    break;
                }
            }
            let ends_clean = j >= bytes.len() || !bytes[j].is_ascii_digit();
            if digits.len() == 9 && ends_clean && Bsn::passes_eleven_check(&digits) {
                out.push_str("[bsn]");
                i = j;
                continue;
            }
        }
        let ch = text[i..]
            .chars()
            .next()
            .expect("i is before the end, on a character boundary: it moves by whole characters");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_check_accepts_known_valid_numbers() {
        // 111222333: 9+8+7+12+10+8+9+6-3 = 66 = 6 * 11.
        assert!(Bsn::parse("111222333").is_ok());
        assert_eq!(Bsn::parse("123456782").unwrap().as_str(), "123456782");
    }

    #[test]
    fn eleven_check_rejects_one_digit_off() {
        assert_eq!(Bsn::parse("111222334"), Err(BsnError::FailsElevenCheck));
        assert_eq!(Bsn::parse("123456781"), Err(BsnError::FailsElevenCheck));
    }

    #[test]
    fn zero_and_bad_shapes_are_refused() {
        assert_eq!(Bsn::parse("000000000"), Err(BsnError::FailsElevenCheck));
        assert_eq!(Bsn::parse("12345678A"), Err(BsnError::NotDigits));
        assert_eq!(Bsn::parse("1234567"), Err(BsnError::WrongLength(7)));
        assert_eq!(Bsn::parse(""), Err(BsnError::NotDigits));
    }

    #[test]
    fn eight_digits_get_their_leading_zero_back() {
        // 012345672: 0+8+14+18+20+20+18+14-2 = 110.
        assert_eq!(Bsn::parse("12345672").unwrap().as_str(), "012345672");
        assert_eq!(Bsn::parse_number(" 12345672"), Ok(12345672));
        assert_eq!(Bsn::parse_number("111222333"), Ok(111222333));
        assert_eq!(Bsn::parse_number("1234567"), Err(BsnError::WrongLength(7)));
    }

    #[test]
    fn redaction_hides_valid_bsns_in_any_spelling_only() {
        assert_eq!(
            redact_bsns("client 111222333 in crisis"),
            "client [bsn] in crisis"
        );
        assert_eq!(redact_bsns("bsn 1112.22.333."), "bsn [bsn].");
        assert_eq!(redact_bsns("bsn 1112 22 333"), "bsn [bsn]");
        // Not a BSN (fails the check), a phone number, and a longer number stay.
        assert_eq!(redact_bsns("ref 111222334"), "ref 111222334");
        assert_eq!(redact_bsns("tel 0612345678"), "tel 0612345678");
        assert_eq!(redact_bsns("cliënt één"), "cliënt één");
    }
}
