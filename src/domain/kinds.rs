//! Two closed vocabularies a policy writes and a plan carries: how risky a fix is, and what
//! kind of database object a spliced placeholder names.

/// The declared risk of the fix: the first word of `## Risk Level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

/// What a spliced placeholder names, which decides how it is validated, looked up in the
/// dictionary and written into DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Tablespace,
    TempTablespace,
    Datafile,
    Tempfile,
    User,
    Schema,
    Table,
    Index,
    Sequence,
    Role,
    Database,
    Parameter,
    /// A column name (in `CREATE INDEX … (:column)`): confirmed to exist as a column, quoted.
    Column,
    Session,
    Number,
}

impl IdentifierKind {
    /// Every kind with its name as a policy writes it: the one table names and kinds come from.
    pub const ALL: [(&'static str, IdentifierKind); 15] = [
        ("tablespace", IdentifierKind::Tablespace),
        ("temp_tablespace", IdentifierKind::TempTablespace),
        ("datafile", IdentifierKind::Datafile),
        ("tempfile", IdentifierKind::Tempfile),
        ("user", IdentifierKind::User),
        ("schema", IdentifierKind::Schema),
        ("table", IdentifierKind::Table),
        ("index", IdentifierKind::Index),
        ("sequence", IdentifierKind::Sequence),
        ("role", IdentifierKind::Role),
        ("database", IdentifierKind::Database),
        ("parameter", IdentifierKind::Parameter),
        ("column", IdentifierKind::Column),
        ("session", IdentifierKind::Session),
        ("number", IdentifierKind::Number),
    ];

    pub fn parse(text: &str) -> Option<IdentifierKind> {
        let wanted = text.trim().to_lowercase();
        Self::ALL.iter().find(|(name, _)| *name == wanted).map(|(_, kind)| *kind)
    }

    /// The kind's name as a policy writes it.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, kind)| *kind == self).map_or("identifier", |(name, _)| name)
    }

    /// All names, for error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|(name, _)| *name)
    }

    /// File paths, session ids and numbers are written as literals, not quoted names.
    pub fn is_literal(self) -> bool {
        matches!(
            self,
            IdentifierKind::Datafile | IdentifierKind::Tempfile | IdentifierKind::Session | IdentifierKind::Number
        )
    }
}

impl Risk {
    /// The word as a policy writes it and screens show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "LOW",
            Risk::Medium => "MEDIUM",
            Risk::High => "HIGH",
            Risk::Critical => "CRITICAL",
        }
    }

    /// Reads the first word, so `LOW -- adding a datafile is safe` is LOW (the reference product
    /// compared the whole sentence and never matched).
    pub fn parse_leading(text: &str) -> Option<Risk> {
        let word: String = text.trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        match word.to_ascii_uppercase().as_str() {
            "LOW" => Some(Risk::Low),
            "MEDIUM" => Some(Risk::Medium),
            "HIGH" => Some(Risk::High),
            "CRITICAL" => Some(Risk::Critical),
            _ => None,
        }
    }
}
