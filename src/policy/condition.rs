//! The small comparison language of `## Confirmed When` and `## Success Criteria`:
//! `COLUMN OP VALUE [+|- N]`, evaluated over one row of a query.
//!
//! It exists so that a policy says exactly what "the problem is real" and "the fix worked" mean,
//! instead of the reference product's guess that every number going down is good.

use std::collections::BTreeMap;
use std::fmt;

/// One bullet of Confirmed When / Success Criteria.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub column: String,
    pub op: CompareOp,
    pub value: Operand,
    /// `+ N` or `- N` applied to the value before comparing.
    pub offset: f64,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Text(String),
    /// `alert.FIELD`: a value extracted from the alert email.
    AlertField(String),
    /// `before.COLUMN`: the same query's value before the fix ran.
    Before(String),
    /// `row.COLUMN`: another column of the same row, so a threshold can come from the
    /// database itself (a per-database setting the query reads) rather than the rule.
    Column(String),
}

/// The values a condition can refer to.
#[derive(Debug, Default)]
pub struct Scope<'a> {
    pub row: Option<&'a BTreeMap<String, String>>,
    pub alert: Option<&'a BTreeMap<String, String>>,
    pub before: Option<&'a BTreeMap<String, String>>,
}

/// Why a condition held or not, in words a DBA can read in `sentri show`.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub held: bool,
    pub explanation: String,
}

impl CompareOp {
    fn parse(text: &str) -> Option<CompareOp> {
        Some(match text {
            "<" => CompareOp::Lt,
            "<=" => CompareOp::Le,
            ">" => CompareOp::Gt,
            ">=" => CompareOp::Ge,
            "==" | "=" => CompareOp::Eq,
            "!=" | "<>" => CompareOp::Ne,
            _ => return None,
        })
    }

    fn holds<T: PartialOrd>(self, left: T, right: T) -> bool {
        match self {
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
            CompareOp::Eq => left == right,
            CompareOp::Ne => left != right,
        }
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.column, self.op)?;
        match &self.value {
            Operand::Number(number) => write!(f, "{number}")?,
            Operand::Text(text) => write!(f, "'{text}'")?,
            Operand::AlertField(field) => write!(f, "alert.{field}")?,
            Operand::Before(column) => write!(f, "before.{column}")?,
            Operand::Column(column) => write!(f, "row.{column}")?,
        }
        if self.offset > 0.0 {
            write!(f, " + {}", self.offset)?;
        } else if self.offset < 0.0 {
            write!(f, " - {}", -self.offset)?;
        }
        Ok(())
    }
}

impl Condition {
    /// Parses `COLUMN OP VALUE [+|- N]`. The error says what was expected.
    pub fn parse(text: &str, line: usize) -> Result<Condition, String> {
        let text = text.trim().trim_matches('`');
        let op_start = text
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| format!("`{text}`: expected COLUMN OP VALUE with OP one of < <= > >= == !="))?;
        let column = text[..op_start].trim().trim_matches('`').to_lowercase();
        if column.is_empty() || !column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{text}`: the left side must be a column name"));
        }
        let rest = &text[op_start..];
        let op_len = rest.chars().take_while(|c| matches!(c, '<' | '>' | '=' | '!')).count();
        let op = CompareOp::parse(&rest[..op_len])
            .ok_or_else(|| format!("`{text}`: unknown operator `{}`", &rest[..op_len]))?;
        let (value, offset) = parse_value(rest[op_len..].trim()).map_err(|message| format!("`{text}`: {message}"))?;
        Ok(Condition { column, op, value, offset, line })
    }

    /// Evaluates against the scope. A missing column or value makes the condition fail, with
    /// the reason, never silently pass.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Outcome {
        let Some(left) = scope.row.and_then(|row| lookup(row, &self.column)) else {
            return Outcome { held: false, explanation: format!("{self}: the row has no column {}", self.column) };
        };
        let right = match &self.value {
            Operand::Number(number) => Some(number.to_string()),
            Operand::Text(text) => Some(text.clone()),
            Operand::AlertField(field) => scope.alert.and_then(|alert| lookup(alert, field)).map(str::to_owned),
            Operand::Before(column) => scope.before.and_then(|before| lookup(before, column)).map(str::to_owned),
            Operand::Column(column) => scope.row.and_then(|row| lookup(row, column)).map(str::to_owned),
        };
        let Some(right) = right else {
            return Outcome { held: false, explanation: format!("{self}: the right-hand value is not known") };
        };
        match (parse_number(left), parse_number(&right)) {
            (Some(left_number), Some(right_number)) => {
                let right_number = right_number + self.offset;
                let held = self.op.holds(left_number, right_number);
                Outcome { held, explanation: format!("{self}: {left_number} {} {right_number} is {held}", self.op) }
            }
            _ if self.offset == 0.0 && !matches!(self.value, Operand::Number(_)) => {
                let held = self.op.holds(left.to_lowercase(), right.to_lowercase());
                Outcome { held, explanation: format!("{self}: '{left}' {} '{right}' is {held}", self.op) }
            }
            _ => Outcome { held: false, explanation: format!("{self}: '{left}' or '{right}' is not a number") },
        }
    }
}

/// Evaluates all conditions; they all must hold.
pub fn all_hold(conditions: &[Condition], scope: &Scope<'_>) -> (bool, Vec<Outcome>) {
    let outcomes: Vec<_> = conditions.iter().map(|condition| condition.evaluate(scope)).collect();
    (outcomes.iter().all(|outcome| outcome.held), outcomes)
}

fn lookup<'a>(map: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key)
        .or_else(|| map.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, value)| value))
        .map(String::as_str)
}

/// Numbers as alerts and queries write them: `97`, `97.5`, `5,010`, `97%`.
pub fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text.trim().trim_end_matches('%').chars().filter(|c| *c != ',').collect();
    cleaned.trim().parse::<f64>().ok().filter(|number| number.is_finite())
}

fn parse_value(text: &str) -> Result<(Operand, f64), String> {
    if let Some(rest) = text.strip_prefix('\'') {
        let end = rest.find('\'').ok_or("unterminated 'string'")?;
        if !rest[end + 1..].trim().is_empty() {
            return Err("nothing may follow a quoted string".to_owned());
        }
        return Ok((Operand::Text(rest[..end].to_owned()), 0.0));
    }
    let (head, offset) = match text.rfind([' ', '+', '-']).filter(|index| *index > 0) {
        Some(_) => split_offset(text)?,
        None => (text, 0.0),
    };
    let head = head.trim();
    let operand = if let Some(field) = head.strip_prefix("alert.") {
        Operand::AlertField(field.to_lowercase())
    } else if let Some(column) = head.strip_prefix("before.") {
        Operand::Before(column.to_lowercase())
    } else if let Some(column) = head.strip_prefix("row.") {
        Operand::Column(column.to_lowercase())
    } else if let Some(number) = parse_number(head) {
        Operand::Number(number)
    } else {
        return Err(format!("`{head}` is not a number, a 'string', alert.FIELD, before.COLUMN or row.COLUMN"));
    };
    Ok((operand, offset))
}

/// Splits `alert.used_percent - 2` into the operand and -2.
fn split_offset(text: &str) -> Result<(&str, f64), String> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    match tokens.as_slice() {
        [single] => Ok((single, 0.0)),
        [head, sign @ ("+" | "-"), amount] => {
            let amount = parse_number(amount).ok_or_else(|| format!("`{amount}` is not a number"))?;
            let start = text.find(head).unwrap_or(0);
            Ok((&text[start..start + head.len()], if *sign == "-" { -amount } else { amount }))
        }
        _ => Err(format!("`{text}`: expected VALUE, or VALUE + N, or VALUE - N")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_every_form() {
        let condition = Condition::parse("used_pct >= alert.used_percent - 2", 3).expect("parses");
        assert_eq!(condition.column, "used_pct");
        assert_eq!(condition.op, CompareOp::Ge);
        assert_eq!(condition.value, Operand::AlertField("used_percent".into()));
        assert_eq!(condition.offset, -2.0);
        assert_eq!(Condition::parse("status == 'ONLINE'", 1).expect("text").value, Operand::Text("ONLINE".into()));
        assert_eq!(
            Condition::parse("`used_pct` < before.used_pct", 1).expect("before").value,
            Operand::Before("used_pct".into())
        );
        assert_eq!(Condition::parse("cnt > 0", 1).expect("number").value, Operand::Number(0.0));
        assert!(Condition::parse("-5 > 0", 1).is_err());
    }

    #[test]
    fn a_row_operand_compares_two_columns_of_the_row() {
        let condition = Condition::parse("query_seconds >= row.long_query_seconds", 1).expect("parses");
        assert_eq!(condition.value, Operand::Column("long_query_seconds".into()));
        let over = map(&[("query_seconds", "45"), ("long_query_seconds", "30")]);
        let under = map(&[("query_seconds", "12"), ("long_query_seconds", "30")]);
        let scope = |row| Scope { row: Some(row), alert: None, before: None };
        assert!(condition.evaluate(&scope(&over)).held);
        assert!(!condition.evaluate(&scope(&under)).held);
        let missing = map(&[("query_seconds", "45")]);
        assert!(!condition.evaluate(&scope(&missing)).held, "a threshold the row lacks never holds");
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(Condition::parse("used_pct is big", 1).unwrap_err().contains("expected COLUMN OP VALUE"));
        assert!(Condition::parse("used_pct >= banana", 1).unwrap_err().contains("not a number"));
        assert!(Condition::parse("used_pct =< 3", 1).unwrap_err().contains("unknown operator"));
    }

    #[test]
    fn evaluates_numbers_with_offsets_and_text() {
        let row = map(&[("used_pct", "95.5"), ("status", "online")]);
        let alert = map(&[("used_percent", "97")]);
        let scope = Scope { row: Some(&row), alert: Some(&alert), before: None };
        assert!(Condition::parse("used_pct >= alert.used_percent - 2", 1).expect("p").evaluate(&scope).held);
        assert!(!Condition::parse("used_pct >= alert.used_percent", 1).expect("p").evaluate(&scope).held);
        assert!(Condition::parse("status == 'ONLINE'", 1).expect("p").evaluate(&scope).held);
        let missing = Condition::parse("nope > 1", 1).expect("p").evaluate(&scope);
        assert!(!missing.held);
        assert!(missing.explanation.contains("no column nope"));
    }

    #[test]
    fn before_values_compare_across_runs() {
        let before = map(&[("used_pct", "97")]);
        let after = map(&[("used_pct", "71")]);
        let scope = Scope { row: Some(&after), alert: None, before: Some(&before) };
        let (held, outcomes) = all_hold(&[Condition::parse("used_pct < before.used_pct", 1).expect("p")], &scope);
        assert!(held, "{outcomes:?}");
    }

    #[test]
    fn numbers_as_alerts_write_them() {
        assert_eq!(parse_number("5,010"), Some(5010.0));
        assert_eq!(parse_number("97%"), Some(97.0));
        assert_eq!(parse_number("x"), None);
    }

    #[test]
    fn a_condition_written_out_reads_back_the_same() {
        // An approved plan keeps its success criteria in their written form and the executor
        // parses them again: the round trip must not change what they mean.
        for text in [
            "used_pct < 90",
            "used_pct <= before.used_pct - 5",
            "max_value > 2147483647",
            "state == 'VALID'",
            "free_mb >= alert.needed_mb + 100.5",
            "x != -3",
        ] {
            let parsed = Condition::parse(text, 1).expect(text);
            let again = Condition::parse(&parsed.to_string(), 1).expect(text);
            assert_eq!(parsed, again, "{text} -> {parsed}");
        }
    }
}
