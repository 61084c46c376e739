//! `RawFields`: a row's fields as read, held as one text with each field's place in it.

/// The fields of one input row in the contract's column order, each `None` (empty or absent)
/// or a text. All texts sit one after another in one `String`, so that a row is read without
/// an allocation per field, and a row read into again reuses the room of the one before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawFields {
    text: String,
    /// Each field's start and end in `text`.
    spans: Vec<Option<(u32, u32)>>,
}

impl RawFields {
    /// Fields from texts, an empty text as `None` (for tests and small inputs).
    pub fn from_texts<'t>(texts: impl IntoIterator<Item = Option<&'t str>>) -> RawFields {
        let mut fields = RawFields::default();
        for t in texts {
            fields.push(t.filter(|t| !t.is_empty()));
        }
        fields
    }

    /// `n` absent fields.
    pub fn absent(n: usize) -> RawFields {
        RawFields {
            text: String::new(),
            spans: vec![None; n],
        }
    }

    /// Empties the fields, keeping their room.
    pub fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Appends a field.
    pub fn push(&mut self, field: Option<&str>) {
        let span = field.map(|f| {
            let start = self.text.len();
            self.text.push_str(f);
            // A row's text is one CSV record or one JSON entry: far below 4 GiB.
            (start as u32, self.text.len() as u32)
        });
        self.spans.push(span);
    }

    /// Field `i`, if it is there and not empty.
    pub fn get(&self, i: usize) -> Option<&str> {
        let (start, end) = (*self.spans.get(i)?)?;
        self.text.get(start as usize..end as usize)
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_back_as_pushed_and_again_after_a_clear() {
        let mut f = RawFields::from_texts([Some("E1"), None, Some(""), Some("één"), Some("x")]);
        assert_eq!(f.len(), 5);
        let got: Vec<Option<&str>> = (0..6).map(|i| f.get(i)).collect();
        assert_eq!(got, [Some("E1"), None, None, Some("één"), Some("x"), None]);
        f.clear();
        assert!(f.is_empty());
        f.push(Some("abc"));
        f.push(None);
        assert_eq!((f.get(0), f.get(1), f.len()), (Some("abc"), None, 2));
        assert_eq!(RawFields::absent(3).get(2), None);
        assert_eq!(RawFields::absent(3).len(), 3);
    }
}
