//! Field paths: `Address.City`, and looking them up in raw and owned documents.

use std::fmt;
use std::str::FromStr;

use bson::{Bson, Document, RawBsonRef, RawDocument};
use serde::{Deserialize, Serialize};

/// A field path: one or more field names, each reaching into the sub-document named by the
/// previous one. Segments are plain strings, so any field name can be expressed (YQL writes
/// unusual names in backquotes: `` `first name`.x ``).
///
/// A path never reaches into arrays: `Items.Price` is missing when `Items` is an array.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct FieldPath {
    segments: Vec<String>,
}

/// Why a path could not be built or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A path needs at least one segment.
    #[error("a field path needs at least one field name")]
    Empty,
    /// A field name may not hold a NUL character (BSON cannot store it).
    #[error("field name {0:?} contains a NUL character")]
    Nul(String),
    /// More segments than a document may nest levels ([`super::MAX_DEPTH`]).
    #[error("field path has {segments} segments; at most {max} are allowed")]
    TooDeep {
        /// How many segments the path had.
        segments: usize,
        /// The limit.
        max: usize,
    },
    /// A dotted path had an empty segment (`a..b`, `.a`, `a.`).
    #[error("field path {0:?} has an empty segment")]
    EmptySegment(String),
    /// Backquoted path text was malformed.
    #[error("malformed field path {0:?}")]
    Malformed(String),
    /// Setting `a.b` where `a` holds something other than a document.
    #[error("cannot set {path}: {prefix} is not a document")]
    NotADocument {
        /// The path being set.
        path: String,
        /// The prefix that holds a non-document value.
        prefix: String,
    },
}

impl FieldPath {
    /// A path from its segments; fails when there are none, more than [`super::MAX_DEPTH`] (a
    /// set through it would nest the document deeper than that), or a segment holds a NUL.
    pub fn new(segments: Vec<String>) -> Result<Self, PathError> {
        if segments.is_empty() {
            return Err(PathError::Empty);
        }
        if segments.len() > super::MAX_DEPTH {
            return Err(PathError::TooDeep {
                segments: segments.len(),
                max: super::MAX_DEPTH,
            });
        }
        if let Some(s) = segments.iter().find(|s| s.contains('\0')) {
            return Err(PathError::Nul(s.clone()));
        }
        Ok(FieldPath { segments })
    }

    /// A path of one field name (not split on dots).
    pub fn field(name: &str) -> Result<Self, PathError> {
        Self::new(vec![name.to_string()])
    }

    /// Splits `text` on every `.` (no quoting): `"Address.City"` has two segments. This is how the
    /// keys of `set({...})` documents are read.
    pub fn dotted(text: &str) -> Result<Self, PathError> {
        let segments: Vec<String> = text.split('.').map(str::to_string).collect();
        if segments.iter().any(String::is_empty) {
            return Err(PathError::EmptySegment(text.to_string()));
        }
        Self::new(segments)
    }

    /// The path `_id`.
    pub fn id() -> Self {
        FieldPath {
            segments: vec!["_id".to_string()],
        }
    }

    /// The field names, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether this is the path `_id`.
    pub fn is_id(&self) -> bool {
        self.segments.len() == 1 && self.segments.first().is_some_and(|s| s == "_id")
    }

    /// The path with its segments joined by dots, without quoting (`Address.City`).
    pub fn to_dotted(&self) -> String {
        self.segments.join(".")
    }

    /// Whether `self` equals `other` or is a proper prefix of it.
    pub fn is_prefix_of(&self, other: &FieldPath) -> bool {
        other.segments.starts_with(&self.segments)
    }
}

/// Whether a segment can be written without backquotes.
fn is_plain_segment(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes the path in YQL syntax: plain segments as they are, others in backquotes (a backquote
/// inside is doubled).
impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if is_plain_segment(s) {
                f.write_str(s)?;
            } else {
                write!(f, "`{}`", s.replace('`', "``"))?;
            }
        }
        Ok(())
    }
}

/// Parses the YQL path syntax written by `Display`: segments separated by dots, plain
/// (`[A-Za-z_][A-Za-z0-9_]*`) or backquoted.
impl FromStr for FieldPath {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, PathError> {
        let malformed = || PathError::Malformed(text.to_string());
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        loop {
            let mut seg = String::new();
            if chars.peek() == Some(&'`') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err(malformed()),
                        Some('`') if chars.peek() == Some(&'`') => {
                            chars.next();
                            seg.push('`');
                        }
                        Some('`') => break,
                        Some(c) => seg.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    seg.push(c);
                    chars.next();
                }
                if !is_plain_segment(&seg) {
                    return Err(malformed());
                }
            }
            segments.push(seg);
            match chars.next() {
                None => break,
                Some('.') => {}
                Some(_) => return Err(malformed()),
            }
        }
        Self::new(segments)
    }
}

impl TryFrom<Vec<String>> for FieldPath {
    type Error = PathError;

    fn try_from(segments: Vec<String>) -> Result<Self, PathError> {
        Self::new(segments)
    }
}

impl From<FieldPath> for Vec<String> {
    fn from(p: FieldPath) -> Self {
        p.segments
    }
}

/// Finds the value at `path` in a raw document, walking sub-documents only. Returns `None` when
/// the field is missing, when the path passes through an array or a scalar, or when the raw
/// bytes are malformed. Only the elements on the way are decoded.
pub fn lookup<'a>(doc: &'a RawDocument, path: &FieldPath) -> Option<RawBsonRef<'a>> {
    let (last, init) = path.segments.split_last()?;
    let mut cur = doc;
    for seg in init {
        match cur.get(seg) {
            Ok(Some(RawBsonRef::Document(d))) => cur = d,
            _ => return None,
        }
    }
    cur.get(last).ok().flatten()
}

/// The `_id` of a raw document (`None` when missing or malformed).
pub fn lookup_id(doc: &RawDocument) -> Option<RawBsonRef<'_>> {
    doc.get("_id").ok().flatten()
}

/// Finds the value at `path` in an owned document (same rules as [`lookup`]).
pub fn get_path<'a>(doc: &'a Document, path: &FieldPath) -> Option<&'a Bson> {
    let (last, init) = path.segments.split_last()?;
    let mut cur = doc;
    for seg in init {
        match cur.get(seg) {
            Some(Bson::Document(d)) => cur = d,
            _ => return None,
        }
    }
    cur.get(last)
}

/// Sets the value at `path`, creating missing intermediate sub-documents (appended at the end of
/// their parent). Replacing an existing field keeps its position. Fails, changing nothing, when
/// a prefix of the path holds something other than a document.
pub fn set_path(doc: &mut Document, path: &FieldPath, value: Bson) -> Result<(), PathError> {
    let Some((last, init)) = path.segments.split_last() else {
        return Err(PathError::Empty);
    };
    // Check first so that a failure leaves the document untouched.
    {
        let mut cur = &*doc;
        for (i, seg) in init.iter().enumerate() {
            match cur.get(seg) {
                Some(Bson::Document(d)) => cur = d,
                None => break,
                Some(_) => {
                    return Err(PathError::NotADocument {
                        path: path.to_string(),
                        prefix: segments_to_string(path.segments.get(..=i).unwrap_or_default()),
                    });
                }
            }
        }
    }
    let mut cur = doc;
    for seg in init {
        if !cur.contains_key(seg) {
            cur.insert(seg.clone(), Document::new());
        }
        match cur.get_mut(seg) {
            Some(Bson::Document(d)) => cur = d,
            _ => {
                return Err(PathError::NotADocument {
                    path: path.to_string(),
                    prefix: seg.clone(),
                });
            }
        }
    }
    cur.insert(last.clone(), value);
    Ok(())
}

/// Removes the value at `path` and returns it; `None` (and no change) when it is missing.
pub fn unset_path(doc: &mut Document, path: &FieldPath) -> Option<Bson> {
    let (last, init) = path.segments.split_last()?;
    let mut cur = doc;
    for seg in init {
        match cur.get_mut(seg) {
            Some(Bson::Document(d)) => cur = d,
            _ => return None,
        }
    }
    cur.remove(last)
}

fn segments_to_string(segments: &[String]) -> String {
    FieldPath {
        segments: segments.to_vec(),
    }
    .to_string()
}

#[cfg(test)]
mod tests;
