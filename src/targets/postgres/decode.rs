//! Result rows as text: every column decoded from PostgreSQL's binary format to the text a
//! policy condition compares, whatever its type.

use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Type};

use super::{Failure, Value};

/// A column's raw binary value, decoded by [`decode`] according to its type.
pub(super) struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

pub(super) fn decode_row(row: &Row) -> Result<Vec<Value>, Failure> {
    (0..row.len())
        .map(|index| {
            let ty = row.columns()[index].type_();
            let raw: Option<Raw<'_>> = row.try_get(index).map_err(Failure::Db)?;
            Ok(match raw {
                None => Value::Null,
                Some(Raw(bytes)) => decode(ty, bytes),
            })
        })
        .collect()
}

/// Decodes one binary-format value. Types without a decoder here come back as text when their
/// bytes are UTF-8 (enums, citext…) and as bytes otherwise.
pub(super) fn decode(ty: &Type, bytes: &[u8]) -> Value {
    let fallback = || match std::str::from_utf8(bytes) {
        Ok(text) => Value::Text(text.to_owned()),
        Err(_) => Value::Bytes(bytes.to_vec()),
    };
    let be = |n: usize| -> Option<[u8; 8]> {
        let mut buffer = [0u8; 8];
        let slice = bytes.get(..n).filter(|_| bytes.len() == n)?;
        buffer[8 - n..].copy_from_slice(slice);
        Some(buffer)
    };
    match *ty {
        Type::BOOL => bytes.first().map_or_else(fallback, |b| Value::Bool(*b != 0)),
        Type::INT2 => be(2).map_or_else(fallback, |b| Value::Int(i64::from(i16::from_be_bytes([b[6], b[7]])))),
        Type::INT4 => {
            be(4).map_or_else(fallback, |b| Value::Int(i64::from(i32::from_be_bytes([b[4], b[5], b[6], b[7]]))))
        }
        Type::INT8 => be(8).map_or_else(fallback, |b| Value::Int(i64::from_be_bytes(b))),
        Type::OID | Type::XID | Type::REGCLASS | Type::REGPROC | Type::REGTYPE | Type::REGNAMESPACE | Type::REGROLE => {
            be(4).map_or_else(fallback, |b| Value::Int(i64::from(u32::from_be_bytes([b[4], b[5], b[6], b[7]]))))
        }
        Type::FLOAT4 => {
            be(4).map_or_else(fallback, |b| Value::Float(f64::from(f32::from_be_bytes([b[4], b[5], b[6], b[7]]))))
        }
        Type::FLOAT8 => be(8).map_or_else(fallback, |b| Value::Float(f64::from_be_bytes(b))),
        Type::NUMERIC => numeric_text(bytes).map_or_else(fallback, Value::Decimal),
        Type::TIMESTAMPTZ => {
            be(8).and_then(|b| timestamp_text(i64::from_be_bytes(b), true)).map_or_else(fallback, Value::Timestamp)
        }
        Type::TIMESTAMP => {
            be(8).and_then(|b| timestamp_text(i64::from_be_bytes(b), false)).map_or_else(fallback, Value::Timestamp)
        }
        Type::DATE => be(4)
            .and_then(|b| date_text(i32::from_be_bytes([b[4], b[5], b[6], b[7]])))
            .map_or_else(fallback, Value::Text),
        Type::TIME => be(8).map_or_else(fallback, |b| Value::Text(time_text(i64::from_be_bytes(b)))),
        Type::UUID if bytes.len() == 16 => {
            let hex = hex::encode(bytes);
            Value::Text(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
        }
        Type::JSONB => match bytes.split_first() {
            Some((1, rest)) => std::str::from_utf8(rest).map_or_else(|_| fallback(), |t| Value::Text(t.to_owned())),
            _ => fallback(),
        },
        Type::CHAR => bytes.first().map_or_else(fallback, |b| Value::Text(char::from(*b).to_string())),
        Type::BYTEA => Value::Bytes(bytes.to_vec()),
        _ => fallback(),
    }
}

/// PostgreSQL's binary numeric (base-10000 digits, weight, sign, display scale) as the decimal
/// text the server itself would print.
pub(super) fn numeric_text(bytes: &[u8]) -> Option<String> {
    let word = |index: usize| bytes.get(index * 2..index * 2 + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = usize::from(word(3)?);
    match sign {
        0xC000 => return Some("NaN".to_owned()),
        0xD000 => return Some("Infinity".to_owned()),
        0xF000 => return Some("-Infinity".to_owned()),
        _ => {}
    }
    let digits: Vec<u16> = (0..ndigits).map(|i| word(4 + i)).collect::<Option<_>>()?;
    let digit = |index: i32| usize::try_from(index).ok().and_then(|i| digits.get(i)).copied().unwrap_or(0);
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        for index in 0..=weight {
            if index == 0 {
                out.push_str(&digit(index).to_string());
            } else {
                out.push_str(&format!("{:04}", digit(index)));
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut fraction = String::new();
        let mut index = weight + 1;
        while fraction.len() < dscale {
            fraction.push_str(&format!("{:04}", digit(index)));
            index += 1;
        }
        fraction.truncate(dscale);
        out.push_str(&fraction);
    }
    Some(out)
}

/// Microseconds since 2000-01-01 as RFC 3339 (UTC with `Z` for timestamptz, no offset for
/// timestamp); the infinities as PostgreSQL spells them.
pub(super) fn timestamp_text(micros: i64, zoned: bool) -> Option<String> {
    match micros {
        i64::MAX => return Some("infinity".to_owned()),
        i64::MIN => return Some("-infinity".to_owned()),
        _ => {}
    }
    const EPOCH_2000_MICROS: i64 = 946_684_800_000_000;
    let timestamp = jiff::Timestamp::from_microsecond(micros.checked_add(EPOCH_2000_MICROS)?).ok()?;
    if zoned { Some(timestamp.to_string()) } else { Some(jiff::tz::Offset::UTC.to_datetime(timestamp).to_string()) }
}

pub(super) fn date_text(days: i32) -> Option<String> {
    match days {
        i32::MAX => return Some("infinity".to_owned()),
        i32::MIN => return Some("-infinity".to_owned()),
        _ => {}
    }
    jiff::civil::date(2000, 1, 1).checked_add(jiff::Span::new().days(i64::from(days))).ok().map(|d| d.to_string())
}

pub(super) fn time_text(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let base = format!("{:02}:{:02}:{:02}", seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if fraction == 0 { base } else { format!("{base}.{fraction:06}").trim_end_matches('0').to_owned() }
}
