//! Keyed pseudonyms (HMAC-SHA-256) for client and employee identifiers, one domain per kind.

use polars::prelude::PlHashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::privacy::bsn_macs::BsnMacs;
use crate::privacy::key::Key;

/// What a pseudonym stands for. Each domain has its own prefix and its own MAC input
/// label, so equal values of different kinds never share a pseudonym. Client BSNs and
/// employees' own BSNs share the `Bsn` domain on purpose: that is how a self look-up is
/// seen without any plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    Bsn,
    ClientNumber,
    Surname,
    Address,
}

impl Domain {
    /// Visible, versioned prefix of pseudonyms in this domain.
    pub fn prefix(self) -> &'static str {
        match self {
            Domain::Bsn => "bsn1_",
            Domain::ClientNumber => "cln1_",
            Domain::Surname => "snm1_",
            Domain::Address => "adr1_",
        }
    }

    fn label(self) -> &'static [u8] {
        match self {
            Domain::Bsn => b"wmo-audit/v1/bsn",
            Domain::ClientNumber => b"wmo-audit/v1/client-number",
            Domain::Surname => b"wmo-audit/v1/surname",
            Domain::Address => b"wmo-audit/v1/address",
        }
    }

    /// The canonical form a value is reduced to before it is keyed, so that trivially
    /// different spellings of one surname or address meet.
    pub fn normalise(self, value: &str) -> String {
        match self {
            Domain::Bsn | Domain::ClientNumber => value.trim().to_string(),
            Domain::Surname => value
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
            Domain::Address => value
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase(),
        }
    }
}

/// Turns identifiers into pseudonyms, caching the ones it has seen (a log names the same
/// client thousands of times).
pub struct Pseudonymiser {
    /// HMAC-SHA-256 with the key already taken in (two of the four SHA-256 blocks of a MAC of a
    /// short value), cloned for each MAC.
    keyed: Hmac<Sha256>,
    /// Per domain (`Domain as usize`): value as given -> pseudonym. Keyed by the value before
    /// it is normalised, so that a value seen before costs one look-up and no allocation.
    cache: [PlHashMap<String, String>; 4],
    /// BSN as a number -> its MAC: a look-up that follows no pointer.
    bsns: BsnMacs,
}

impl Pseudonymiser {
    pub fn new(key: &Key) -> Self {
        Pseudonymiser {
            keyed: key.mac(),
            cache: Default::default(),
            bsns: BsnMacs::default(),
        }
    }

    /// The pseudonym of `value` in `domain`: prefix + 32 hex characters (128 bits) of
    /// HMAC-SHA-256(key, label || 0x00 || normalised value).
    pub fn pseudonym(&mut self, domain: Domain, value: &str) -> String {
        let cache = &mut self.cache[domain as usize];
        if let Some(p) = cache.get(value) {
            return p.clone();
        }
        let p = render(domain, &mac(&self.keyed, domain, &domain.normalise(value)));
        cache.insert(value.to_string(), p.clone());
        p
    }

    /// The pseudonym of a BSN given as a number (`Bsn::parse_number`): the same as
    /// `pseudonym(Domain::Bsn, ..)` of its nine digits.
    pub fn bsn_pseudonym(&mut self, bsn: u32) -> String {
        if let Some(mac) = self.bsns.get(bsn) {
            return render(Domain::Bsn, mac);
        }
        let m = mac(&self.keyed, Domain::Bsn, &format!("{bsn:09}"));
        self.bsns.insert(bsn, m);
        render(Domain::Bsn, &m)
    }

    /// Starts fetching what `bsn_pseudonym(bsn)` will look up, so that it is in the cache when
    /// that is called a few rows later.
    pub fn prefetch_bsn(&self, bsn: u32) {
        self.bsns.prefetch(bsn);
    }
}

/// The first 128 bits of HMAC-SHA-256(key, label || 0x00 || normalised value).
fn mac(keyed: &Hmac<Sha256>, domain: Domain, normal: &str) -> [u8; 16] {
    let mut mac = keyed.clone();
    mac.update(domain.label());
    mac.update(&[0]);
    mac.update(normal.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    first
}

/// Prefix + lower-case hex (what `hex::encode` gives), written into the one `String`.
fn render(domain: Domain, mac: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut p = String::with_capacity(domain.prefix().len() + 32);
    p.push_str(domain.prefix());
    for b in mac {
        p.push(char::from(HEX[usize::from(b >> 4)]));
        p.push(char::from(HEX[usize::from(b & 15)]));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_domain_separated_and_stable() {
        let k1 = Key::from_secret([1u8; 32], false);
        let k2 = Key::from_secret([2u8; 32], false);
        let mut p1 = Pseudonymiser::new(&k1);
        let mut p2 = Pseudonymiser::new(&k2);
        let a = p1.pseudonym(Domain::Bsn, "111222333");
        assert!(a.starts_with("bsn1_") && a.len() == 5 + 32);
        assert_eq!(a, p1.pseudonym(Domain::Bsn, "111222333"));
        assert_ne!(
            a,
            p2.pseudonym(Domain::Bsn, "111222333"),
            "another key, another pseudonym"
        );
        assert_ne!(
            a[5..],
            p1.pseudonym(Domain::ClientNumber, "111222333")[5..],
            "another domain, another pseudonym"
        );
        assert!(!a.contains("111222333"));
    }

    #[test]
    fn a_bsn_given_as_a_number_gets_the_pseudonym_of_its_nine_digits() {
        let k = Key::from_secret([1u8; 32], false);
        let mut p = Pseudonymiser::new(&k);
        for (n, digits) in [(111222333, "111222333"), (12345672, "012345672")] {
            let by_text = p.pseudonym(Domain::Bsn, digits);
            assert_eq!(p.bsn_pseudonym(n), by_text);
            // From the cache too, and against a fresh pseudonymiser's.
            assert_eq!(p.bsn_pseudonym(n), by_text);
            assert_eq!(Pseudonymiser::new(&k).bsn_pseudonym(n), by_text);
        }
        // The rendering is the hex of the MAC, whatever order the cache is filled in.
        let mut q = Pseudonymiser::new(&k);
        let b = q.bsn_pseudonym(12345672);
        assert_eq!(b, q.pseudonym(Domain::Bsn, "012345672"));
        assert_ne!(b, q.bsn_pseudonym(111222333));
    }

    #[test]
    fn surnames_and_addresses_are_normalised_before_keying() {
        let k = Key::from_secret([1u8; 32], false);
        let mut p = Pseudonymiser::new(&k);
        assert_eq!(
            p.pseudonym(Domain::Surname, " de  Vries"),
            p.pseudonym(Domain::Surname, "De Vries")
        );
        assert_eq!(
            p.pseudonym(Domain::Address, "2311 ab 12"),
            p.pseudonym(Domain::Address, "2311AB12")
        );
        assert_ne!(
            p.pseudonym(Domain::Surname, "de Vries"),
            p.pseudonym(Domain::Surname, "Vries")
        );
    }
}
