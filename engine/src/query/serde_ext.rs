//! Serde helpers that write BSON values inside a [`super::Query`] as canonical extended JSON, so
//! that every type survives any serde format: through JSON an int32 `-1` stays an int32 and a
//! datetime stays a datetime (plain serde would turn them into an int64 and a number).

use bson::{Bson, Document};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

fn to_value(v: &Bson) -> Value {
    v.clone().into_canonical_extjson()
}

fn from_value<E: serde::de::Error>(v: Value) -> Result<Bson, E> {
    Bson::try_from(v).map_err(E::custom)
}

fn doc_from_value<E: serde::de::Error>(v: Value) -> Result<Document, E> {
    match from_value(v)? {
        Bson::Document(d) => Ok(d),
        other => Err(E::custom(format!("expected a document, found {other}"))),
    }
}

/// One value.
pub(crate) mod bson_value {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Bson, s: S) -> Result<S::Ok, S::Error> {
        to_value(v).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bson, D::Error> {
        from_value(Value::deserialize(d)?)
    }
}

/// An optional value.
pub(crate) mod opt_bson {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Bson>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(to_value).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bson>, D::Error> {
        Option::<Value>::deserialize(d)?.map(from_value).transpose()
    }
}

/// A list of values.
pub(crate) mod vec_bson {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Bson], s: S) -> Result<S::Ok, S::Error> {
        v.iter().map(to_value).collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Bson>, D::Error> {
        Vec::<Value>::deserialize(d)?
            .into_iter()
            .map(from_value)
            .collect()
    }
}

/// One document.
pub(crate) mod document {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Document, s: S) -> Result<S::Ok, S::Error> {
        to_value(&Bson::Document(v.clone())).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Document, D::Error> {
        doc_from_value(Value::deserialize(d)?)
    }
}

/// A list of documents.
pub(crate) mod vec_document {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Document], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|d| to_value(&Bson::Document(d.clone())))
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Document>, D::Error> {
        Vec::<Value>::deserialize(d)?
            .into_iter()
            .map(doc_from_value)
            .collect()
    }
}

/// `set` fields: (path, value) pairs.
pub(crate) mod set_fields {
    use super::*;
    use crate::value::FieldPath;

    pub fn serialize<S: Serializer>(v: &[(FieldPath, Bson)], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|(p, b)| (p.clone(), to_value(b)))
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(FieldPath, Bson)>, D::Error> {
        Vec::<(FieldPath, Value)>::deserialize(d)?
            .into_iter()
            .map(|(p, v)| from_value(v).map(|b| (p, b)))
            .collect()
    }
}
