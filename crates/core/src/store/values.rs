//! Conversion between wire values (`serde_json::Value`) and SQLite column values, by field type.

use crate::error::{Error, Result};
use liaison_protocol::schema::FieldType;
use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
use serde_json::Value;
use uuid::Uuid;

/// The column value for a wire value, borrowing its text where it can. Lists and JSON values are
/// stored as JSON text, refs as 16-byte blobs, booleans as 0 or 1 (an absent boolean as 0, as
/// [`normalise`] reads it).
pub fn to_sql(ty: FieldType, value: &Value) -> Result<ToSqlOutput<'_>> {
    Ok(match (ty, value) {
        (FieldType::TextList, Value::Null) => ToSqlOutput::Borrowed(ValueRef::Text(b"[]")),
        (FieldType::Bool, Value::Null) => ToSqlOutput::Owned(Sql::Integer(0)),
        (_, Value::Null) => ToSqlOutput::Owned(Sql::Null),
        (FieldType::Text | FieldType::Choice(_) | FieldType::Sha256, Value::String(s)) => {
            ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
        }
        (FieldType::TextList, Value::Array(_)) => ToSqlOutput::Owned(Sql::Text(value.to_string())),
        (FieldType::Ref(_) | FieldType::AnyRef, Value::String(s)) => ToSqlOutput::Owned(Sql::Blob(
            Uuid::parse_str(s).map_err(|_| Error::invalid(format!("{s:?} is not a record id")))?.as_bytes().to_vec(),
        )),
        (FieldType::Bool, Value::Bool(b)) => ToSqlOutput::Owned(Sql::Integer(i64::from(*b))),
        (FieldType::Integer, Value::Number(n)) => ToSqlOutput::Owned(Sql::Integer(
            n.as_i64().ok_or_else(|| Error::invalid(format!("{n} is not a whole number")))?,
        )),
        (FieldType::Json(_), v) => ToSqlOutput::Owned(Sql::Text(v.to_string())),
        _ => return Err(Error::invalid(format!("a value of the wrong type: {value}"))),
    })
}

/// The wire value of a column. Lists normalise to arrays and booleans to `false` (never null), so
/// "no tags" or "not restricted" compares equal however it was written.
pub fn from_sql(ty: FieldType, value: ValueRef<'_>) -> Value {
    match (ty, value) {
        (FieldType::TextList, ValueRef::Text(t)) => serde_json::from_slice(t).unwrap_or_else(|_| Value::Array(vec![])),
        (FieldType::TextList, _) => Value::Array(vec![]),
        (FieldType::Bool, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (FieldType::Bool, _) => Value::Bool(false),
        (FieldType::Json(_), ValueRef::Text(t)) => serde_json::from_slice(t).unwrap_or(Value::Null),
        (_, ValueRef::Null) => Value::Null,
        (FieldType::Ref(_) | FieldType::AnyRef, ValueRef::Blob(b)) => {
            Uuid::from_slice(b).map(|u| Value::String(u.to_string())).unwrap_or(Value::Null)
        }
        (_, ValueRef::Text(t)) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (_, ValueRef::Integer(i)) => Value::from(i),
        (_, ValueRef::Real(f)) => Value::from(f),
        (_, ValueRef::Blob(_)) => Value::Null,
    }
}

/// Normalise a wire value the way the column will store it (for change detection).
pub fn normalise(ty: FieldType, value: &Value) -> Value {
    match (ty, value) {
        (FieldType::TextList, Value::Null) => Value::Array(vec![]),
        (FieldType::Bool, Value::Null) => Value::Bool(false),
        _ => value.clone(),
    }
}
