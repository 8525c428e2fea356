//! Property tests of the code that reads outside input (issue 15 §4), on generated input rather
//! than the handful of cases a person thinks of:
//!
//! - an email, as bytes or as near-MIME built to be awkward, never makes the parser panic;
//! - a policy file, shipped or mangled, never makes the loader panic, and every problem it
//!   reports names a line of that file;
//! - the read-only gate never lets a writing statement through, however it is wrapped in
//!   comments, quotes, dollar quotes and `q'[…]'` literals (and the rate at which it refuses
//!   harmless queries that only mention writes inside literals is printed);
//! - an approval reply approves only when the author's own first line says APPROVED: quoted
//!   text, signatures, forwarded blocks and HTML below it change nothing;
//! - a quoted identifier reads back as the name it quoted, on both engines.
//!
//! Case counts are kept modest (256, more for the cheap lexer) so the whole file runs in
//! seconds on a 2-core machine.

use std::path::Path;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use sentri::domain::{Dialect as DbDialect, IdentifierKind, RawAlert, quoted_identifier};
use sentri::pipeline::approval::reply::{self, DecisionLine};
use sentri::policy::PolicySet;
use sentri::sql::{Dialect, Token, lex, read_only};
use sentri::store::approvals::Decision;
use sentri::targets::resolve::{self, Spelling};

const AT: &str = "2026-12-04T10:00:00Z";

/// `cases` per property; failures are kept in `proptest-regressions/properties.txt` and re-run
/// first (proptest finds no `lib.rs` beside a file in tests/ to put them next to).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/properties.txt"))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Email parsing never panics.

/// Header lines that are legal, broken or hostile.
fn header_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"From: OEM <oem@example.org>".to_vec()),
        Just(b"From: a@example.org, b@example.org, \"C, D\" <c@example.org>".to_vec()),
        Just(b"From: =?utf-8?B?QVBQUk9WRUQ=?= <x@y>, <>, @, ;".to_vec()),
        Just(b"From:".to_vec()),
        Just(b"Subject: =?x-unknown?Q?caf=E9?= =?utf-8?B?@@@@?= =?utf-8?Q?=ZZ?=".to_vec()),
        Just(b"Subject: =?iso-2022-jp?B?GyRCJDMkcyRLJEEkTxsoQg==?=".to_vec()),
        Just(b"Subject: bad\x00nul\x00bytes".to_vec()),
        Just(b"X-Nul\x00Name: value".to_vec()),
        Just(b"Message-ID: <\x00@\x00>".to_vec()),
        Just(b"Content-Transfer-Encoding: base64".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable".to_vec()),
        Just(b"Content-Transfer-Encoding: x-uuencode".to_vec()),
        Just(b"Content-Type: text/plain; charset=\"x-no-such-charset\"".to_vec()),
        Just(b"Content-Type: text/html; charset=utf-16".to_vec()),
        Just(b"Content-Type: message/rfc822".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=".to_vec()),
        Just(b"Content-Type: multipart/alternative; boundary=\"b\"".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"b\"; boundary=\"c\"".to_vec()),
        Just(b"Content-Disposition: attachment; filename*=utf-8''%FF%FE".to_vec()),
        Just(b"Date: Thu, 99 Foo 99999 99:99:99 +9999".to_vec()),
        Just(b" folded continuation with no header".to_vec()),
        Just(b"no colon at all".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..120).prop_map(|mut v| {
            v.retain(|b| *b != b'\n');
            let mut line = b"X-Junk: ".to_vec();
            line.extend(v);
            line
        }),
    ]
}

/// Body chunks: text in several encodings, broken base64 and quoted-printable, HTML, boundaries.
fn body_chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"Target name=PRODDB\r\nMessage=Tablespace [USERS] is [97 percent] full".to_vec()),
        Just(b"QVBQUk9WRUQK\r\n@@@@====\r\nQUJD".to_vec()),
        Just(b"=E9=\r\n=ZZ=\r\nsoft break=".to_vec()),
        Just(b"<html><body><div>hi<blockquote>APPROVED</blockquote><p>&nGt;&#xFFFFFF;&#0;".to_vec()),
        Just(b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n--b--".to_vec()),
        Just(b"--b\r\n\r\n--c\r\n--b--\r\n--".to_vec()),
        Just(b"\xff\xfe\x00A\x00P\x00\xc3\x28\xe2\x82".to_vec()),
        Just(b"begin 644 file\r\nM86)C\r\nend".to_vec()),
        Just(vec![b'A'; 3000]),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

/// One layer of a nested message: its headers, and whether it is multipart (with a boundary,
/// possibly never closed) or a message/rfc822 part.
#[derive(Debug, Clone)]
enum Layer {
    Multipart { boundary: String, close: bool },
    Rfc822,
    Encoded,
}

fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        ("[a-z0-9]{0,8}", any::<bool>()).prop_map(|(boundary, close)| Layer::Multipart { boundary, close }),
        Just(Layer::Rfc822),
        Just(Layer::Encoded),
    ]
}

/// A near-MIME message: headers, then up to 120 nested layers, then body chunks.
fn near_mime() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(header_line(), 0..8),
        proptest::collection::vec(layer(), 0..120),
        proptest::collection::vec(body_chunk(), 0..4),
        prop_oneof![Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\r"[..])],
    )
        .prop_map(|(headers, layers, chunks, eol)| {
            let mut mail = Vec::new();
            for header in headers {
                mail.extend(header);
                mail.extend(eol);
            }
            let mut closing = Vec::new();
            for layer in &layers {
                match layer {
                    Layer::Multipart { boundary, close } => {
                        mail.extend(format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"").as_bytes());
                        mail.extend(eol);
                        mail.extend(eol);
                        mail.extend(format!("--{boundary}").as_bytes());
                        mail.extend(eol);
                        if *close {
                            closing.push(format!("--{boundary}--"));
                        }
                    }
                    Layer::Rfc822 => {
                        mail.extend(b"Content-Type: message/rfc822");
                        mail.extend(eol);
                        mail.extend(eol);
                    }
                    Layer::Encoded => {
                        mail.extend(b"Content-Type: message/rfc822");
                        mail.extend(eol);
                        mail.extend(b"Content-Transfer-Encoding: base64");
                        mail.extend(eol);
                        mail.extend(eol);
                        mail.extend(b"RnJvbTogYUBiDQpTdWJqZWN0OiBuZXN0ZWQNCg0KYm9keQ0K");
                        mail.extend(eol);
                    }
                }
            }
            mail.extend(b"Content-Type: text/plain; charset=utf-8");
            mail.extend(eol);
            mail.extend(eol);
            for chunk in chunks {
                mail.extend(chunk);
                mail.extend(eol);
            }
            for close in closing.iter().rev() {
                mail.extend(close.as_bytes());
                mail.extend(eol);
            }
            mail
        })
}

/// What the intake and triage do with a message before any policy: parse it, shape it for the
/// matcher, read its sender and, as a reply, its first line.
fn read_message(raw: &[u8]) -> RawAlert {
    let alert = RawAlert::from_rfc822(raw, AT.into());
    let shaped = sentri::pipeline::shapes::read(&alert);
    assert!(shaped.text.len() <= sentri::pipeline::shapes::MAX_MATCH_TEXT);
    let _ = reply::single_sender(&alert.headers);
    let _ = reply::decision_line(&alert.body, None);
    alert
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn email_parsing_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let alert = read_message(&raw);
        // Kept whatever it was: a content id at least.
        prop_assert!(!alert.id.is_empty());
    }

    #[test]
    fn email_parsing_never_panics_on_near_mime(raw in near_mime()) {
        let alert = read_message(&raw);
        prop_assert!(!alert.id.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Policy parsing never panics and always names a line.

/// Every shipped policy file: (folder under SENTRI_HOME it loads from, text).
fn shipped_policies() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut found = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("policies/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") && !path.ends_with("README.md") {
                let relative = path.strip_prefix(&root).expect("under policies/").to_string_lossy().into_owned();
                // The pack's alert folders are alerts/<engine>/ in a home.
                let home_path = if relative.starts_with("oracle/") || relative.starts_with("postgres/") {
                    format!("alerts/{relative}")
                } else {
                    relative
                };
                found.push((home_path, std::fs::read_to_string(&path).expect("read a policy")));
            }
        }
    }
    found.sort();
    found
}

/// Lines a policy is made of, to splice in anywhere.
const POLICY_LINES: &[&str] = &[
    "---",
    "```",
    "```regex",
    "```sql",
    "## Email Pattern",
    "## Extracted Fields",
    "## Verification Query",
    "## Forward Action",
    "## Rollback Action",
    "## Success Criteria",
    "## Pre-Flight Checks",
    "## Tools",
    "## Cause: LOCK_WAIT",
    "## Fix: kill",
    "## Forecast",
    "## Scoring Weights",
    "severity: [",
    "severity: CRITICAL",
    "schedule: \"61 * * * *\"",
    "schedule: every_blue_moon",
    "identifiers:\n  seq: sequence",
    "- `x` = group(99)",
    "- `x` = group(",
    "- metric: used_mb",
    "- limit_column:",
    "- used_pct > ",
    "- when: row.a >",
    "(unclosed",
    "(?<=look)behind",
    "SELECT :x FROM t WHERE a = :",
    "DELETE FROM t",
    "BEGIN NULL; END;",
    "\u{0}\u{feff}\u{202e}",
    "\t\t- : - :",
    "",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, String),
    Duplicate(usize),
    Truncate(usize),
    ReplaceChar(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let line = prop_oneof![
        proptest::sample::select(POLICY_LINES).prop_map(str::to_owned),
        "[ -~]{0,40}".prop_map(String::from),
        any::<String>().prop_map(|s| s.chars().take(40).collect()),
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), line).prop_map(|(at, text)| Edit::Insert(at, text)),
        any::<usize>().prop_map(Edit::Duplicate),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Edit::ReplaceChar(at, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for edit in edits {
        let len = lines.len().max(1);
        match edit {
            Edit::Delete(at) if !lines.is_empty() => {
                lines.remove(at % len);
            }
            Edit::Insert(at, line) => lines.insert(at % (lines.len() + 1), line.clone()),
            Edit::Duplicate(at) if !lines.is_empty() => {
                let copy = lines[at % len].clone();
                lines.insert(at % len, copy);
            }
            Edit::Truncate(at) => lines.truncate(at % (lines.len() + 1)),
            Edit::ReplaceChar(at, c) if !lines.is_empty() => {
                let line = &mut lines[at % len];
                let chars: Vec<char> = line.chars().collect();
                if !chars.is_empty() {
                    let index = at % chars.len();
                    *line = chars[..index].iter().chain(std::iter::once(c)).chain(&chars[index + 1..]).collect();
                }
            }
            _ => {}
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn policy_parsing_never_panics_and_every_problem_names_a_line(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(edit(), 0..12),
        raw in any::<bool>(),
        noise in any::<String>(),
    ) {
        let shipped = shipped_policies();
        let (home_path, text) = pick.get(&shipped);
        // Either a shipped file with edits, or arbitrary text where that file would be.
        let text = if raw { noise } else { apply(text, &edits) };
        let home = tempfile::tempdir().expect("tempdir");
        let path = home.path().join(home_path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &text).expect("write");
        let set = PolicySet::load(home.path());
        let lines = text.lines().count().max(1);
        for problem in &set.problems {
            prop_assert!(
                problem.line >= 1 && problem.line <= lines + 1,
                "{problem} names no line of the file ({lines} lines):\n{text}"
            );
        }
        // A file with an error is skipped, never half-loaded.
        if set.errors().any(|problem| problem.path == path) {
            prop_assert!(set.skipped.contains(&path) || home_path.starts_with("brain/"), "{:?}", set.problems);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The read-only gate never passes a writing statement.

/// A literal or a comment, safe to put where an expression or white space may stand, holding
/// text that would write if it were code. `postgres`: the dialect's own quotes.
fn hiding_place(dialect: Dialect) -> BoxedStrategy<String> {
    let payload = proptest::sample::select(vec![
        "DELETE FROM t",
        "'; DELETE FROM t; --",
        "*/ DELETE FROM t /*",
        "$$ DELETE $$",
        "]' , my_fn(1), q'[",
        "\\' , pg_terminate_backend(1), '",
        "FOR UPDATE",
        "nextval('s')",
        "\r, pg_terminate_backend(1)",
        "\n, pg_terminate_backend(1) --",
    ]);
    let common = payload.clone().prop_map(|p| format!("'{}'", p.replace('\'', "''"))).boxed();
    match dialect {
        Dialect::Postgres => prop_oneof![
            common,
            payload.clone().prop_map(|p| format!("$q${p}$q$").replace("$q$$q$", "$q$ $q$")),
            payload.clone().prop_map(|p| format!("$$ {} $$", p.replace("$$", "$ $"))),
            payload.clone().prop_map(|p| format!("E'{}'", p.replace('\\', "\\\\").replace('\'', "\\'"))),
        ]
        .boxed(),
        _ => prop_oneof![
            common,
            payload.clone().prop_map(|p| format!("q'[{}]'", p.replace("]'", "] '"))),
            payload.clone().prop_map(|p| format!("q'{{{}}}'", p.replace("}'", "} '"))),
            payload.prop_map(|p| format!("nq'<{}>'", p.replace(">'", "> '"))),
        ]
        .boxed(),
    }
}

/// White space or a comment, between tokens.
fn noise(dialect: Dialect) -> BoxedStrategy<String> {
    let mut choices = vec![
        Just(" ".to_owned()).boxed(),
        Just("\n\t".to_owned()).boxed(),
        Just(" -- SELECT only\n".to_owned()).boxed(),
        Just(" /* harmless */ ".to_owned()).boxed(),
        Just(" /* ' \" $$ q'[ */ ".to_owned()).boxed(),
        Just("\r\n-- x\r\n".to_owned()).boxed(),
    ];
    // PostgreSQL ends `--` at a CR; on Oracle a lone CR there is refused as unreadable.
    choices.push(Just(" -- comment with a lone CR\r".to_owned()).boxed());
    if dialect == Dialect::Postgres {
        choices.push(Just(" /* outer /* inner */ still comment */ ".to_owned()).boxed());
    }
    proptest::strategy::Union::new(choices).boxed()
}

/// Statements that write or act, by dialect. `{L}` is where a literal may go; ` ` between words
/// is where noise may go.
const PG_WRITERS: &[&str] = &[
    "INSERT INTO t (a) VALUES ({L})",
    "UPDATE t SET a = {L}",
    "DELETE FROM t WHERE a = {L}",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
    "CREATE TABLE x AS SELECT {L} AS a",
    "DROP TABLE t",
    "ALTER SEQUENCE s AS bigint",
    "TRUNCATE t",
    "GRANT ALL ON t TO PUBLIC",
    "VACUUM FULL t",
    "COPY t FROM '/tmp/x'",
    "LOCK TABLE t IN ACCESS EXCLUSIVE MODE",
    "CALL p({L})",
    "DO $body$ BEGIN DELETE FROM t; END $body$",
    "SELECT a FROM t WHERE b = {L} FOR UPDATE",
    "SELECT a FROM t FOR NO KEY UPDATE",
    "SELECT a FROM t FOR SHARE SKIP LOCKED",
    "SELECT nextval({L})",
    "SELECT setval('s', 1)",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {L}",
    "SELECT pg_advisory_lock(1)",
    "SELECT set_config('search_path', {L}, false)",
    "SELECT lo_unlink(1)",
    "SELECT * FROM dblink('c', {L}) AS x(a int)",
    "SELECT a INTO t2 FROM t",
    "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "WITH x AS (UPDATE t SET a = {L} RETURNING a) SELECT a FROM x",
    "WITH x AS (INSERT INTO t VALUES (1) RETURNING a) SELECT {L} FROM x",
    "EXPLAIN ANALYZE DELETE FROM t",
    "SELECT {L}; DELETE FROM t",
    "SELECT 1 FROM t WHERE a IN (SELECT pg_switch_wal())",
];

const ORACLE_WRITERS: &[&str] = &[
    "INSERT INTO t (a) VALUES ({L})",
    "UPDATE t SET a = {L}",
    "DELETE FROM t WHERE a = {L}",
    "MERGE INTO t USING s ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET t.a = {L}",
    "CREATE TABLE x AS SELECT {L} AS a FROM dual",
    "DROP TABLE t PURGE",
    "ALTER TABLESPACE users ADD DATAFILE SIZE 1G",
    "ALTER SYSTEM KILL SESSION '1,2' IMMEDIATE",
    "TRUNCATE TABLE t",
    "GRANT DBA TO scott",
    "LOCK TABLE t IN EXCLUSIVE MODE",
    "CALL p({L})",
    "EXEC p({L})",
    "BEGIN DELETE FROM t WHERE a = {L}; END;",
    "DECLARE n NUMBER; BEGIN n := {L}; UPDATE t SET a = n; END;",
    "SELECT a FROM t WHERE b = {L} FOR UPDATE",
    "SELECT a FROM t FOR UPDATE OF a NOWAIT",
    "SELECT s.NEXTVAL FROM dual",
    "SELECT my_fn({L}) FROM dual",
    "SELECT app.pkg.fn(1) FROM dual",
    "SELECT DBMS_LOCK.REQUEST(1) FROM dual",
    "SELECT sys.dbms_pipe.send_message({L}) FROM dual",
    "SELECT a INTO v FROM t",
    "SELECT {L} FROM dual; DELETE FROM t",
    "SELECT f@remote(1) FROM dual",
];

/// Harmless queries: a literal or a comment may hold anything.
const PG_READERS: &[&str] = &[
    "SELECT {L} AS note",
    "SELECT a, {L} FROM t WHERE b = {L}",
    "SELECT count(*) FROM pg_stat_activity WHERE query = {L}",
    "WITH x AS (SELECT {L} AS a) SELECT a FROM x",
];

const ORACLE_READERS: &[&str] = &[
    "SELECT {L} AS note FROM dual",
    "SELECT a, {L} FROM t WHERE b = {L}",
    "SELECT COUNT(*) FROM v$session WHERE program = {L}",
    "WITH x AS (SELECT {L} AS a FROM dual) SELECT a FROM x",
];

/// A statement from `templates` with literals filled and noise between its words.
fn decorated(dialect: Dialect, templates: &'static [&'static str]) -> BoxedStrategy<String> {
    (
        proptest::sample::select(templates),
        proptest::collection::vec(hiding_place(dialect), 4),
        proptest::collection::vec(noise(dialect), 24),
        noise(dialect),
        prop_oneof![Just(""), Just(";"), Just(" ;\n"), Just("\n/\n")],
    )
        .prop_map(move |(template, literals, noises, lead, end)| {
            // Noise goes between the template's words, before the literals are filled in, so it
            // never lands inside a literal.
            let mut noises = noises.into_iter().cycle();
            let mut spaced = lead;
            for (index, piece) in template.split(' ').enumerate() {
                if index > 0 {
                    let n = noises.next().unwrap_or_else(|| " ".to_owned());
                    spaced.push_str(if index % 3 == 0 { &n } else { " " });
                }
                spaced.push_str(piece);
            }
            let mut literals = literals.into_iter().cycle();
            let mut out = String::new();
            let mut rest = spaced.as_str();
            while let Some(at) = rest.find("{L}") {
                out.push_str(&rest[..at]);
                out.push_str(&literals.next().unwrap_or_default());
                rest = &rest[at + 3..];
            }
            out.push_str(rest);
            out.push_str(end);
            out
        })
        .boxed()
}

/// What `Target::query` asks before sending text: the gate on the text with its terminator
/// stripped (`targets::read_only_text`).
fn gate(sql: &str, dialect: Dialect) -> Result<(), read_only::Refusal> {
    read_only::check(&sentri::targets::sql::strip_terminator(sql), dialect)
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn the_gate_refuses_every_writing_statement_on_postgres(sql in decorated(Dialect::Postgres, PG_WRITERS)) {
        prop_assert!(gate(&sql, Dialect::Postgres).is_err(), "passed the read-only gate: {sql:?}");
    }

    #[test]
    fn the_gate_refuses_every_writing_statement_on_oracle(sql in decorated(Dialect::Oracle, ORACLE_WRITERS)) {
        prop_assert!(gate(&sql, Dialect::Oracle).is_err(), "passed the read-only gate: {sql:?}");
    }
}

/// Harmless queries the gate should accept: only the safety direction is a property (above);
/// here the rate of false refusals is measured and printed, and a gate that refused nearly
/// everything — useless on the read path — fails.
#[test]
fn harmless_queries_with_writes_only_inside_literals_and_comments_are_mostly_accepted() {
    for (dialect, templates) in [(Dialect::Postgres, PG_READERS), (Dialect::Oracle, ORACLE_READERS)] {
        let strategy = decorated(dialect, templates);
        let mut runner = TestRunner::deterministic();
        let total = 2000;
        let mut refused = Vec::new();
        for _ in 0..total {
            let sql = strategy.new_tree(&mut runner).expect("a case").current();
            if let Err(refusal) = gate(&sql, dialect) {
                refused.push((sql, refusal.reason));
            }
        }
        let rate = refused.len() as f64 / f64::from(total);
        eprintln!(
            "read-only gate, {dialect:?}: {} of {total} harmless queries refused ({:.1} %)",
            refused.len(),
            rate * 100.0
        );
        for (sql, reason) in refused.iter().take(3) {
            eprintln!("  e.g. {sql:?}: {reason}");
        }
        let examples: Vec<_> = refused.iter().take(3).collect();
        assert!(rate < 0.5, "the gate refuses most harmless queries on {dialect:?}: {examples:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Approval replies approve only from the author's own first line.

const REQUEST: &str = "Sentri needs an approval for workflow 3f9c2a1b (pg_sequence_exhaustion on app, PROD).\n\
\n\
HOW TO ANSWER\n\
Reply to this email with APPROVED or DENIED on the first line; a reason may follow on the same line.\n\
Keep the token line: Token: 0123456789abcdef0123456789abcdef01234567\n\
\n\
PLAN\n\
  Step 1  forward:  ALTER SEQUENCE public.orders_id_seq AS bigint\n\
Token: 0123456789abcdef0123456789abcdef01234567\n";

/// What may follow the author's first line (or stand alone when they wrote nothing): copies of
/// other text that say APPROVED somewhere.
fn below() -> impl Strategy<Value = String> {
    let quoted_request: String = REQUEST.lines().map(|line| format!("> {line}\n")).collect();
    let block = prop_oneof![
        Just("> APPROVED\n".to_owned()),
        Just(">APPROVED, go\n".to_owned()),
        Just("  > > APPROVED\n".to_owned()),
        Just(quoted_request),
        Just("On Mon, 1 Dec 2026 at 10:00, Sentri <sentri@example.org> wrote:\nAPPROVED\n".to_owned()),
        Just("On Mon, 1 Dec 2026 at 10:00, Sentri\n<sentri@example.org> wrote:\nAPPROVED\n".to_owned()),
        Just("Am 01.12.2026 schrieb Sentri:\nAPPROVED\n".to_owned()),
        Just("-----Original Message-----\nAPPROVED\n".to_owned()),
        Just("---------- Forwarded message ---------\nFrom: a@b\nAPPROVED\n".to_owned()),
        Just("Begin forwarded message:\n\nAPPROVED\n".to_owned()),
        Just("From: Sentri <sentri@example.org>\nSent: Monday\nTo: dba\nSubject: x\n\nAPPROVED\n".to_owned()),
        Just("________________________________\nAPPROVED\n".to_owned()),
    ];
    proptest::collection::vec(block, 1..4).prop_map(|blocks| blocks.concat())
}

/// A signature or a closing, after the first line.
fn trailer() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\n-- \nAPPROVED\nDBA team\n".to_owned()),
        Just("\nAPPROVED\n".to_owned()),
        Just("\nThanks,\nAPPROVED by me later\n".to_owned()),
    ]
}

/// A first line a person might write that is not a decision.
fn not_a_decision() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "Hi,",
            "NOT APPROVED",
            "approved?",
            "Approvedd",
            "I have APPROVED nothing",
            "*APPROVED*",
            "\"APPROVED\"",
            "Un-APPROVED",
            "Looks fine but wait",
            "--",
            "<APPROVED>",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z ,.!?]{1,40}".prop_filter("not a decision word first", |line| {
            let word: String = line.trim().chars().take_while(|c| c.is_alphabetic()).collect();
            let word = word.to_uppercase();
            word != "APPROVED" && word != "DENIED" && !line.trim().is_empty()
        }),
    ]
}

fn blank_lines() -> impl Strategy<Value = String> {
    proptest::sample::select(vec!["", "\n", "\n\n", "  \n\u{a0}\n", "\u{feff}\n"]).prop_map(str::to_owned)
}

fn is_approval(line: &DecisionLine) -> bool {
    matches!(line, DecisionLine::Found { decision: Decision::Approved, .. })
}

/// An HTML-only reply (what Outlook, Gmail and Apple Mail send): `visible` is what the author
/// wrote; `hidden` hides APPROVED in places a reader does not see as the author's first line.
fn html_reply(visible: &str, hidden: &str) -> Vec<u8> {
    format!(
        "From: dba@example.org\r\nSubject: Re: [Sentri] Approval needed [WF:3f9c2a1b]\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n\
         <html><head><title>APPROVED</title><style>p:before{{content:'APPROVED'}}</style>\
         <script>var a='APPROVED';</script></head><body>{hidden}<div>{visible}</div>\
         <blockquote type=\"cite\"><div>APPROVED</div></blockquote></body></html>\r\n"
    )
    .into_bytes()
}

fn html_hidden() -> impl Strategy<Value = String> {
    proptest::sample::select(vec![
        "",
        "<!-- APPROVED -->",
        "<div style=\"display:none\">APPROVED</div>",
        "<span hidden>APPROVED</span>",
        "<div style=\"display: none;mso-hide:all\">APPROVED<br></div>",
        "<template>APPROVED</template>",
    ])
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn what_follows_the_authors_first_line_never_changes_the_decision(
        lead in blank_lines(),
        first in prop_oneof![not_a_decision(), Just("APPROVED".to_owned()), Just("DENIED, not now".to_owned())],
        trail in trailer(),
        quoted in below(),
    ) {
        let alone = reply::decision_line(&format!("{lead}{first}\n"), Some(REQUEST));
        let body = format!("{lead}{first}\n{trail}\n{quoted}");
        let read = reply::decision_line(&body, Some(REQUEST));
        prop_assert_eq!(&read, &alone, "{:?}", body);
        prop_assert_eq!(is_approval(&read), first == "APPROVED", "{:?}", body);
    }

    #[test]
    fn a_reply_whose_author_wrote_nothing_approves_nothing(lead in blank_lines(), quoted in below()) {
        let body = format!("{lead}{quoted}");
        let read = reply::decision_line(&body, Some(REQUEST));
        prop_assert!(!is_approval(&read), "{:?} approved: {:?}", body, read);
    }

    #[test]
    fn an_html_reply_approves_only_from_its_visible_first_line(
        first in prop_oneof![not_a_decision(), Just(String::new())],
        hidden in html_hidden(),
    ) {
        let escaped = html_escape::encode_text(&first).into_owned();
        let raw = html_reply(&escaped, &hidden);
        let alert = RawAlert::from_rfc822(&raw, AT.into());
        let read = reply::decision_line(&alert.body, Some(REQUEST));
        prop_assert!(!is_approval(&read), "{:?} read as {:?} approved: {:?}", String::from_utf8_lossy(&raw), alert.body, read);
        // And the same reply saying APPROVED first is read as an approval: the test can fail.
        let raw = html_reply("APPROVED", &hidden);
        let alert = RawAlert::from_rfc822(&raw, AT.into());
        prop_assert!(is_approval(&reply::decision_line(&alert.body, Some(REQUEST))), "{:?}", alert.body);
    }
}

// ---------------------------------------------------------------------------------------------
// Identifier quoting round-trips on both engines.

/// Names as catalogs hold them: anything but control characters, within each engine's length
/// limit (PostgreSQL 63 bytes, Oracle 128).
fn catalog_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_$#]{0,20}",
        "[ -~]{1,30}",
        "\"{1,5}",
        "[a-z]{1,5}\"[.;/* -]{0,5}\"?",
        "\\PC{1,20}",
    ]
    .prop_map(|name| name.chars().filter(|c| !c.is_control()).collect::<String>())
    .prop_filter("a name is 1 to 63 bytes", |name| !name.is_empty() && name.len() <= 63)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_quoted_identifier_reads_back_as_its_name(schema in catalog_name(), name in catalog_name()) {
        let quoted = quoted_identifier(&name);
        for dialect in [Dialect::Postgres, Dialect::Oracle, Dialect::Generic] {
            let lexed = lex(&quoted, dialect);
            prop_assert_eq!(lexed.unterminated, None);
            prop_assert_eq!(&lexed.tokens, &vec![Token::Quoted(name.clone())], "{:?} on {:?}", quoted, dialect);
        }
        let object = sentri::domain::ResolvedIdentifier {
            kind: IdentifierKind::Table,
            schema: Some(schema.clone()),
            name: name.clone(),
        };
        let rendered = object.render();
        for dialect in [DbDialect::Postgres, DbDialect::Oracle] {
            let wanted = resolve::parse(dialect, IdentifierKind::Table, &rendered, Spelling::Written)
                .map(|w| (w.schema, w.name));
            prop_assert_eq!(wanted, Ok((Some(schema.clone()), name.clone())), "{:?} on {:?}", rendered, dialect);
            let single = resolve::parse(dialect, IdentifierKind::Tablespace, &quoted, Spelling::Written);
            prop_assert_eq!(single.map(|w| (w.schema, w.name)), Ok((None, name.clone())), "{:?}", quoted);
        }
    }
}
