//! What the receiving mail server says about a reply's From: its `Authentication-Results`
//! headers (RFC 8601), read as a pure function.
//!
//! The token proves a reply answers a request mailed to one address; the server's DMARC and DKIM
//! results say whether that address really sent it. When the server that received the reply
//! wrote such a header and it says the From domain failed — `dmarc=fail`, or, with no DMARC
//! result at all, DKIM failing with no signature passing — the reply is refused
//! (`approvals.require_authenticated_reply`, on by default). A message without the header is
//! not refused for it: not every server adds one.
//!
//! A sender can write an `Authentication-Results` header of their own; one claiming `pass` does
//! not cancel the server's `fail`, because any failing header refuses the reply. A forged `fail`
//! only stops the forger's own message.

/// Why the receiving server's results refuse a reply: the results that failed, as written
/// (`dmarc=fail`, `dkim=fail`), and the server that wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub results: String,
    pub server: String,
}

/// One `method=result` of a header, lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    method: String,
    result: String,
}

/// The verdict of the `Authentication-Results` headers among `headers`: `Some` when one says
/// the From failed DMARC, or has no DMARC result and DKIM failed without any signature passing.
pub fn failed(headers: &[(String, String)]) -> Option<Failed> {
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authentication-results"))
        .find_map(|(_, value)| judge(value))
}

fn judge(value: &str) -> Option<Failed> {
    let (server, results) = parse(value);
    let of = |method: &str| results.iter().filter(move |r| r.method == method).collect::<Vec<_>>();
    let (dmarc, dkim) = (of("dmarc"), of("dkim"));
    let failing = if !dmarc.is_empty() {
        dmarc.iter().any(|r| r.result == "fail").then(|| "dmarc=fail".to_owned())
    } else {
        let passes = dkim.iter().any(|r| r.result == "pass");
        (!passes && dkim.iter().any(|r| r.result == "fail")).then(|| "dkim=fail".to_owned())
    };
    failing.map(|results| Failed { results, server })
}

/// The authserv-id and the `method=result` pairs of one header value; comments (`(…)`, nested)
/// and quoted strings are skipped, properties (`header.d=…`) ignored.
fn parse(value: &str) -> (String, Vec<MethodResult>) {
    let cleaned = strip_comments(value);
    let mut parts = cleaned.split(';');
    let server = parts.next().unwrap_or_default().split_whitespace().next().unwrap_or_default().to_lowercase();
    let results = parts
        .filter_map(|part| {
            let first = part.split_whitespace().next()?;
            let (method, result) = first.split_once('=')?;
            // `dkim/1` is version 1 of the method.
            let method = method.split('/').next().unwrap_or(method).trim().to_lowercase();
            Some(MethodResult { method, result: result.trim().to_lowercase() })
        })
        .collect();
    (server, results)
}

/// The value with its comments removed and quoted strings blanked (a `;` inside either is not a
/// separator).
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0_usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push('"');
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if quoted || depth > 0 => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> Vec<(String, String)> {
        vec![("From".into(), "alice@example.com".into()), ("Authentication-Results".into(), value.into())]
    }

    #[test]
    fn dmarc_fail_refuses_whatever_dkim_says() {
        let failed = failed(&header(
            "mx.example.net;\r\n dkim=pass header.d=evil.test;\r\n spf=pass smtp.mailfrom=evil.test;\r\n dmarc=fail (p=reject dis=none) header.from=example.com",
        ))
        .unwrap();
        assert_eq!(failed, Failed { results: "dmarc=fail".into(), server: "mx.example.net".into() });
    }

    #[test]
    fn without_dmarc_a_failing_dkim_refuses_unless_a_signature_passes() {
        assert!(failed(&header("mx.example.net; dkim=fail (bad signature) header.d=example.com")).is_some());
        assert!(
            failed(&header("mx.example.net; dkim=fail header.d=list.test; dkim=pass header.d=example.com")).is_none()
        );
        assert!(failed(&header("mx.example.net; dkim=pass header.d=example.com; dmarc=pass")).is_none());
    }

    #[test]
    fn dmarc_pass_wins_over_a_failing_dkim_and_no_header_is_no_refusal() {
        assert!(
            failed(&header("mx.example.net; dkim=fail header.d=list.test; dmarc=pass header.from=example.com"))
                .is_none()
        );
        assert!(failed(&header("mx.example.net; none")).is_none());
        assert!(failed(&[("From".into(), "alice@example.com".into())]).is_none());
    }

    #[test]
    fn a_forged_pass_header_does_not_cancel_the_servers_fail() {
        let mut headers = header("mx.example.net; dmarc=fail header.from=example.com");
        headers.insert(0, ("Authentication-Results".into(), "mx.example.net; dmarc=pass".into()));
        assert!(failed(&headers).is_some());
    }

    #[test]
    fn comments_and_quotes_do_not_split_or_fake_results() {
        assert!(failed(&header("mx.example.net; dmarc=pass (note; dmarc=fail) header.from=example.com")).is_none());
        assert!(failed(&header("mx.example.net; dmarc=pass policy.x=\"a;dmarc=fail\"")).is_none());
        assert!(failed(&header("mx.example.net; DMARC=FAIL header.from=example.com")).is_some());
        assert!(failed(&header("mx.example.net; dkim/1=fail header.d=example.com")).is_some());
    }
}
