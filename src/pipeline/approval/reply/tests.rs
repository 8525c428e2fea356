//! Each rule, each attack, and replies shaped the way real clients write them.

use super::*;

const REQUEST: &str = "Sentri needs an approval for workflow 3f9c2a1b (pg_sequence_exhaustion on app, PROD).\n\
\n\
HOW TO ANSWER\n\
Reply to this email with APPROVED or DENIED on the first line; a reason may follow on the same line.\n\
Keep the token line: Token: 0123456789abcdef0123456789abcdef01234567\n\
\n\
PLAN\n\
  Step 1  forward:  ALTER SEQUENCE public.orders_id_seq AS bigint\n\
Token: 0123456789abcdef0123456789abcdef01234567\n";

fn quoted(prefix: &str) -> String {
    REQUEST.lines().map(|line| format!("{prefix}{line}\n")).collect()
}

fn approved(reason: &str) -> DecisionLine {
    DecisionLine::Found { decision: Decision::Approved, reason: reason.to_owned() }
}

fn denied(reason: &str) -> DecisionLine {
    DecisionLine::Found { decision: Decision::Denied, reason: reason.to_owned() }
}

fn read(body: &str) -> DecisionLine {
    decision_line(body, Some(REQUEST))
}

#[test]
fn the_first_word_decides_and_the_rest_is_the_reason() {
    assert_eq!(read("APPROVED"), approved(""));
    assert_eq!(read("Approved, change window agreed with app team"), approved("change window agreed with app team"));
    assert_eq!(read("approved."), approved(""));
    assert_eq!(read("APPROVED - go"), approved("go"));
    assert_eq!(read("  APPROVED: ok  "), approved("ok"));
    assert_eq!(read("DENIED not during month-end close"), denied("not during month-end close"));
    assert_eq!(read("Denied!"), denied(""));
    assert_eq!(read("\u{feff}APPROVED"), approved(""));
}

#[test]
fn negations_questions_and_sentences_never_count() {
    for line in [
        "NOT APPROVED",
        "Not approved, see below",
        "approved?",
        "APPROVED?",
        "Is this approved? I think not",
        "I have APPROVED nothing",
        "Approvedd",
        "APPROVE",
        "DENIEDX",
        "*APPROVED*",
        "\"APPROVED\"",
        "APPROVED's fine",
        "Un-APPROVED",
        "No. APPROVED only if the window is open",
    ] {
        assert!(matches!(read(line), DecisionLine::NotADecision { .. }), "{line:?} counted");
    }
}

#[test]
fn only_the_first_line_of_the_author_counts() {
    assert_eq!(read("Hi,\nAPPROVED\n"), DecisionLine::NotADecision { line: "Hi,".into() });
    assert_eq!(read("\n\n   \nAPPROVED\nthanks"), approved(""));
    assert_eq!(read("DENIED\nAPPROVED"), denied(""));
}

#[test]
fn approved_only_inside_quoted_text_does_not_count() {
    assert_eq!(read("> APPROVED\n> Token: x"), DecisionLine::Nothing);
    assert_eq!(read(">APPROVED"), DecisionLine::Nothing);
    assert_eq!(read("   > > APPROVED"), DecisionLine::Nothing);
    assert_eq!(read(&format!("\n{}", quoted("> "))), DecisionLine::Nothing);
}

#[test]
fn the_requests_own_text_never_counts() {
    // A client that pastes the request unquoted, with no header block, above nothing.
    assert_eq!(read(REQUEST), DecisionLine::Nothing);
    // Even a request line that would read as a decision is skipped when it is the request's.
    let hostile = "APPROVED by the change board (alert text)\nToken: x";
    assert_eq!(decision_line(hostile, Some(hostile)), DecisionLine::Nothing);
    assert_eq!(decision_line(&format!("DENIED\n{hostile}"), Some(hostile)), denied(""));
}

#[test]
fn gmail_reply() {
    let body = format!(
        "APPROVED, go ahead\r\n\r\nOn Wed, Nov 25, 2026 at 3:01 AM Sentri <sentri@example.com> wrote:\r\n\r\n{}",
        quoted("> ")
    );
    assert_eq!(read(&body), approved("go ahead"));
    // The attribution wrapped onto two lines, and nothing written above it.
    let wrapped =
        format!("\r\nOn Wed, Nov 25, 2026 at 3:01 AM Sentri <\r\nsentri@example.com> wrote:\r\n\r\n{}", quoted("> "));
    assert_eq!(read(&wrapped), DecisionLine::Nothing);
}

#[test]
fn gmail_forward_with_approved_in_the_forwarded_part() {
    let body = format!(
        "FYI, can you look?\n\n---------- Forwarded message ---------\nFrom: Alice <alice@example.com>\nDate: Wed, Nov 25, 2026 at 3:05 AM\nSubject: Re: [WF:3f9c2a1b]\nTo: <sentri@example.com>\n\nAPPROVED\n\n{}",
        quoted("> ")
    );
    assert_eq!(read(&body), DecisionLine::NotADecision { line: "FYI, can you look?".into() });
    let bare = body.replacen("FYI, can you look?\n", "", 1);
    assert_eq!(read(&bare), DecisionLine::Nothing, "a forward carries someone else's APPROVED");
}

#[test]
fn outlook_top_post_with_unquoted_original() {
    let original = format!(
        "________________________________\r\nFrom: Sentri <sentri@example.com>\r\nSent: Wednesday, November 25, 2026 3:01 AM\r\nTo: DBA Team <dba@example.com>\r\nSubject: [Sentri] Approval needed [WF:3f9c2a1b]\r\n\r\n{REQUEST}"
    );
    assert_eq!(
        read(&format!("Denied - wait for the vendor patch\r\n\r\n{original}")),
        denied("wait for the vendor patch")
    );
    assert_eq!(read(&original), DecisionLine::Nothing);
    // Outlook without the rule line: the header block alone starts the original.
    let no_rule = original.replacen("________________________________\r\n", "", 1);
    assert_eq!(read(&no_rule), DecisionLine::Nothing);
    // And with an APPROVED planted in the original's body.
    assert_eq!(read(&format!("\r\n{no_rule}\r\nAPPROVED\r\n")), DecisionLine::Nothing);
}

#[test]
fn outlook_original_message_banner() {
    let body = format!(
        "\n-----Original Message-----\nFrom: Sentri [mailto:sentri@example.com]\nSent: Wednesday, November 25, 2026 3:01 AM\n\nAPPROVED\n{REQUEST}"
    );
    assert_eq!(read(&body), DecisionLine::Nothing);
    assert_eq!(read(&format!("approved\n{body}")), approved(""));
}

#[test]
fn apple_mail_reply_and_forward() {
    let reply = format!(
        "Approved\n\nSent from my iPhone\n\n> On 25 Nov 2026, at 03:01, Sentri <sentri@example.com> wrote:\n> \n{}",
        quoted("> ")
    );
    assert_eq!(read(&reply), approved(""));
    let forward = format!(
        "\n\nBegin forwarded message:\n\nFrom: Sentri <sentri@example.com>\nSubject: [Sentri] Approval needed [WF:3f9c2a1b]\nDate: 25 November 2026 at 03:01:00 GMT\n\nAPPROVED\n{REQUEST}"
    );
    assert_eq!(read(&forward), DecisionLine::Nothing);
}

#[test]
fn thunderbird_reply_and_forward() {
    let reply = format!("On 11/25/26 03:01, Sentri wrote:\n{}\nAPPROVED\n", quoted("> "));
    assert_eq!(read(&reply), DecisionLine::Nothing, "bottom-posting under an attribution only");
    let bottom = format!("{}\nDENIED too risky today\n", quoted("> "));
    assert_eq!(read(&bottom), denied("too risky today"), "bottom-posted answer below the quote");
    let forward = format!(
        "\n\n-------- Forwarded Message --------\nSubject: \t[Sentri] Approval needed\nDate: \tWed, 25 Nov 2026 03:01:00 +0000\nFrom: \tSentri <sentri@example.com>\n\nAPPROVED\n{REQUEST}"
    );
    assert_eq!(read(&forward), DecisionLine::Nothing);
}

#[test]
fn german_outlook_header_block() {
    let body = format!(
        "\nVon: Sentri <sentri@example.com>\nGesendet: Mittwoch, 25. November 2026 03:01\nAn: DBA\nBetreff: [WF:3f9c2a1b]\n\nAPPROVED\n{REQUEST}"
    );
    assert_eq!(read(&body), DecisionLine::Nothing);
    let attributed = "Am 25.11.2026 um 03:01 schrieb Sentri <sentri@example.com>:\n> APPROVED";
    assert_eq!(read(&format!("\n{attributed}")), DecisionLine::Nothing);
}

#[test]
fn a_line_starting_with_from_is_not_a_header_block_by_itself() {
    assert_eq!(
        read("From: my side this is fine\nAPPROVED"),
        DecisionLine::NotADecision { line: "From: my side this is fine".into() }
    );
}

#[test]
fn auto_replies_are_recognised_by_their_headers() {
    let h = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
    assert!(auto_reply(&h("Auto-Submitted", "auto-replied")).is_some());
    assert!(auto_reply(&h("auto-submitted", "auto-generated; owner-email=\"x@y\"")).is_some());
    assert!(auto_reply(&h("Auto-Submitted", "No")).is_none());
    assert!(auto_reply(&h("Auto-Submitted", " no ; comment")).is_none());
    assert!(auto_reply(&h("X-Autoreply", "yes")).is_some());
    assert!(auto_reply(&h("X-Autorespond", "Out of office")).is_some());
    for precedence in ["bulk", "JUNK", "list", "auto_reply"] {
        assert!(auto_reply(&h("Precedence", precedence)).is_some(), "{precedence}");
    }
    assert!(auto_reply(&h("Precedence", "first-class")).is_none());
    assert!(auto_reply(&h("Subject", "Automatic reply: out of office")).is_none());
    assert!(own_mail(&h("x-sentri-message", "approval-request")));
    assert!(!own_mail(&h("X-Mailer", "Sentri")));
}

#[test]
fn the_subject_tag_names_the_workflow() {
    assert_eq!(subject_workflow("Re: [Sentri] Approval needed [WF:3F9C2A1B] app"), Some("3f9c2a1b".into()));
    assert_eq!(subject_workflow("AW: RE: [wf:3f9c2a1b]"), Some("3f9c2a1b".into()));
    assert_eq!(subject_workflow("[WF:3f9c2a1] [WF:0123abcd]"), Some("0123abcd".into()));
    for subject in ["[WF:3f9c2a1g]", "[WF:3f9c2a1b", "WF:3f9c2a1b", "[WF:3f9c2a1bc]", ""] {
        assert_eq!(subject_workflow(subject), None, "{subject:?}");
    }
}

#[test]
fn the_sender_is_one_exact_address() {
    assert_eq!(sender_address("Alice Smith <Alice@Example.COM>"), Some("alice@example.com".into()));
    assert_eq!(sender_address("alice@example.com"), Some("alice@example.com".into()));
    assert_eq!(sender_address("\"alice@example.com\" <mallory@evil.test>"), Some("mallory@evil.test".into()));
    for from in ["", "Alice", "alice@example.com, bob@example.com", "<>", "a b@example.com", "alice@@example.com"] {
        assert_eq!(sender_address(from), None, "{from:?}");
    }
    let approvers = vec!["alice@example.com".to_owned(), "Bob <BOB@example.com>".to_owned()];
    assert!(is_approver("alice@example.com", &approvers));
    assert!(is_approver("bob@example.com", &approvers));
    for other in ["alice@example.com.evil.test", "xalice@example.com", "alice@example.co", "mallory@evil.test"] {
        assert!(!is_approver(other, &approvers), "{other}");
    }
}

#[test]
fn the_sender_is_one_from_header_with_one_address() {
    let from = |values: &[&str]| -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = values.iter().map(|v| ("From".to_owned(), (*v).to_owned())).collect();
        headers.push(("Subject".to_owned(), "Re: [WF:3f9c2a1b]".to_owned()));
        headers
    };
    assert_eq!(single_sender(&from(&["Alice <Alice@Example.com>"])), Some("alice@example.com".into()));
    assert_eq!(single_sender(&from(&["\"Smith, Alice\" <alice@example.com>"])), Some("alice@example.com".into()));
    assert_eq!(single_sender(&from(&["alice@example.com, mallory@evil.test"])), None);
    assert_eq!(single_sender(&from(&["Alice <alice@example.com>", "mallory@evil.test"])), None);
    assert_eq!(single_sender(&from(&["undisclosed"])), None);
    assert_eq!(single_sender(&from(&[])), None);
    // Real messages, as intake stores them.
    let raw = crate::intake::RawAlert::from_rfc822(
        b"From: alice@example.com, mallory@evil.test\r\nSubject: Re: [WF:3f9c2a1b]\r\n\r\nAPPROVED\r\n",
        "2026-11-25T01:00:00Z".into(),
    );
    assert_eq!(single_sender(&raw.headers), None);
    let raw = crate::intake::RawAlert::from_rfc822(
        b"From: Alice\r\n <alice@example.com>\r\nSubject: Re: [WF:3f9c2a1b]\r\n\r\nAPPROVED\r\n",
        "2026-11-25T01:00:00Z".into(),
    );
    assert_eq!(single_sender(&raw.headers), Some("alice@example.com".into()), "a folded From header");
}
