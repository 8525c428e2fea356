//! Bind values: each `$N` converted to the type the server declared for it, so a value from an
//! email or a query reaches PostgreSQL only as a typed bind, and one that does not parse is
//! refused naming its placeholder before anything runs.

use tokio_postgres::Statement;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};

use super::{ErrorKind, Failure, TargetError};

/// A server-side "invalid input" error for a value sent as text: name the placeholder whose
/// value the server quotes, so the error reads like the client-side conversions.
pub(super) fn bind_failure(error: tokio_postgres::Error, binds: &[(String, Option<String>)]) -> Failure {
    if let Some(db) = error.as_db_error()
        && db.code().code().starts_with("22")
        && let Some((name, Some(value))) =
            binds.iter().find(|(_, value)| value.as_ref().is_some_and(|v| db.message().contains(&format!("\"{v}\""))))
    {
        return Failure::Target(
            TargetError::new(
                "",
                ErrorKind::Fill,
                format!("`:{name}` = {:?}: {}", value.chars().take(80).collect::<String>(), db.message()),
            )
            .with_code(db.code().code()),
        );
    }
    Failure::Db(error)
}

/// One bind value, converted to the type the server declared for its `$N`.
#[derive(Debug)]
pub(super) enum Param {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    Oid(u32),
    F32(f32),
    F64(f64),
    /// Sent in PostgreSQL's text format, parsed by the type's own input function on the
    /// server (numeric, timestamps, text-like, and every type not listed above).
    Text(String),
}

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(value) => value.to_sql(ty, out),
            Param::I16(value) => value.to_sql(ty, out),
            Param::I32(value) => value.to_sql(ty, out),
            Param::I64(value) => value.to_sql(ty, out),
            Param::Oid(value) => value.to_sql(ty, out),
            Param::F32(value) => value.to_sql(ty, out),
            Param::F64(value) => value.to_sql(ty, out),
            Param::Text(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        match self {
            Param::Text(_) | Param::Null => Format::Text,
            _ => Format::Binary,
        }
    }

    to_sql_checked!();
}

/// Converts each text value to the type the prepared statement declares for it.
pub(super) fn convert_binds(statement: &Statement, binds: &[(String, Option<String>)]) -> Result<Vec<Param>, Failure> {
    let types = statement.params();
    if types.len() != binds.len() {
        return Err(Failure::Target(TargetError::new(
            "",
            ErrorKind::Fill,
            format!("the statement takes {} parameters but {} values were filled", types.len(), binds.len()),
        )));
    }
    binds.iter().zip(types).map(|((name, value), ty)| convert(name, value.as_deref(), ty)).collect()
}

pub(super) fn convert(name: &str, value: Option<&str>, ty: &Type) -> Result<Param, Failure> {
    let Some(text) = value else { return Ok(Param::Null) };
    let invalid = |what: &str| {
        Failure::Target(
            TargetError::new(
                "",
                ErrorKind::Fill,
                format!("`:{name}` = {:?} is not a valid {what} (the statement needs {})", short(text), ty.name()),
            )
            .with_hint("nothing was sent; check the value extracted from the alert"),
        )
    };
    let trimmed = text.trim();
    Ok(match *ty {
        Type::BOOL => match trimmed.to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => Param::Bool(true),
            "f" | "false" | "n" | "no" | "off" | "0" => Param::Bool(false),
            _ => return Err(invalid("boolean")),
        },
        Type::INT2 => Param::I16(trimmed.parse().map_err(|_| invalid("smallint"))?),
        Type::INT4 => Param::I32(trimmed.parse().map_err(|_| invalid("integer"))?),
        Type::INT8 => Param::I64(trimmed.parse().map_err(|_| invalid("bigint"))?),
        Type::OID => Param::Oid(trimmed.parse().map_err(|_| invalid("oid"))?),
        Type::FLOAT4 => Param::F32(trimmed.parse().map_err(|_| invalid("real"))?),
        Type::FLOAT8 => Param::F64(trimmed.parse().map_err(|_| invalid("double precision"))?),
        Type::NUMERIC => {
            if !is_numeric_text(trimmed) {
                return Err(invalid("numeric"));
            }
            Param::Text(trimmed.to_owned())
        }
        // Text-like values go as they are (never trimmed); the rest in text format for the
        // server's input function to parse.
        _ => Param::Text(text.to_owned()),
    })
}

pub(super) fn short(text: &str) -> String {
    text.chars().take(80).collect()
}

/// `[+-]digits[.digits][e[+-]digits]`, `NaN`, `Infinity`: what PostgreSQL's numeric accepts.
pub(super) fn is_numeric_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    if matches!(lower.as_str(), "nan") || matches!(unsigned, "infinity" | "inf") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    let mantissa_ok = !(whole.is_empty() && fraction.is_empty()) && digits(whole) && digits(fraction);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}
