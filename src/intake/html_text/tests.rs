//! HTML to text: the line structure of the shapes mail clients write, and work linear in the
//! input over adversarial markup.

use proptest::prelude::*;

use super::*;

/// What the sample replies in tests/data/replies/ quote where `{{request}}` stands: the end of
/// an approval request's HTML part, as Sentri writes it.
const REQUEST: &str = "<p>Sentri needs an approval for workflow <b>0123abcd</b> (tablespace_full on PRODDB, PROD).</p><p><b>How to answer:</b> Reply to this email with APPROVED or DENIED on the first line.<br>Keep the token line: <code>Token: 0123456789abcdef0123456789abcdef01234567</code></p><table><tr><th align=\"left\">Subject</th><td>EM Event: Critical:PRODDB &lt;USERS&gt;</td></tr></table><p>Plan hash: <code>ab12</code><br>Token: <code>0123456789abcdef0123456789abcdef01234567</code></p>";
const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

fn sample(name: &str) -> String {
    let html = match name {
        "outlook" => include_str!("../../../tests/data/replies/outlook.html"),
        "gmail" => include_str!("../../../tests/data/replies/gmail.html"),
        "apple_mail" => include_str!("../../../tests/data/replies/apple_mail.html"),
        other => panic!("no sample {other}"),
    };
    html.replace("{{request}}", REQUEST)
        .replace("{{token}}", TOKEN)
        .replace("{{subject}}", "[Sentri] Approval needed [WF:0123abcd] tablespace_full on PRODDB (PROD)")
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn every_block_element_ends_a_line() {
    for block in BLOCKS {
        let name = String::from_utf8_lossy(block);
        let html = format!("x<{name}>a</{name}>b<{name} class=y>c</{name}>");
        assert_eq!(lines(&html_to_text(&html)).len(), 4, "<{name}>: {:?}", html_to_text(&html));
    }
    assert_eq!(html_to_text("<div>APPROVED</div><div>Token: abc</div>"), "APPROVED\nToken: abc");
    assert_eq!(html_to_text("APPROVED<br>Token: abc"), "APPROVED\nToken: abc");
    assert_eq!(html_to_text("a<br><br>b"), "a\n\nb", "each <br> is a line");
    assert_eq!(html_to_text("<div>a</div><div><br></div><div>b</div>"), "a\n\nb");
    assert_eq!(html_to_text("a</br>b"), "a\nb", "a stray </br> is read as <br>");
}

#[test]
fn inline_markup_and_source_line_breaks_do_not_break_lines() {
    assert_eq!(
        html_to_text("<p class=MsoNormal><b>From:</b> Sentri\r\n&lt;s@example.com&gt;<o:p></o:p></p>"),
        "From: Sentri <s@example.com>"
    );
    assert_eq!(html_to_text("<p>  APPROVED \n\t  go&nbsp;&nbsp;ahead </p>"), "APPROVED go ahead");
    assert_eq!(html_to_text("<p><o:p>&nbsp;</o:p></p><p>a</p>"), "a", "an empty paragraph adds no line of spaces");
    assert_eq!(html_to_text("<table><tr><td>Token</td><td>abc</td></tr><tr><td>b</td></tr></table>"), "Token abc\nb");
}

#[test]
fn pre_keeps_its_white_space() {
    assert_eq!(html_to_text("<pre>ALTER  SEQUENCE\n  x</pre>after"), "ALTER  SEQUENCE\n  x\nafter");
}

#[test]
fn quoted_blocks_are_marked_and_the_marks_are_bounded() {
    assert_eq!(
        html_to_text(
            "APPROVED<blockquote type=cite>On x wrote:<br>Token: t<blockquote>deeper</blockquote></blockquote>end"
        ),
        "APPROVED\n> On x wrote:\n> Token: t\n> > deeper\nend"
    );
    let deep = format!("{}x", "<blockquote>".repeat(1000));
    assert_eq!(html_to_text(&deep), format!("{}x", "> ".repeat(MAX_QUOTE_MARKS)));
    assert_eq!(html_to_text("</blockquote></blockquote>a"), "a", "stray end tags close nothing");
}

#[test]
fn invisible_parts_are_left_out() {
    let html = "<html><head><title>T</title><style>p{color:red}</style></head><body><!--[if mso]><xml>x</xml><![endif]--><script>var a = '<div>';</script><p>seen</p><template><p>not</p></template></body></html>";
    assert_eq!(html_to_text(html), "seen");
    assert_eq!(html_to_text("<head><meta charset=utf-8><body>shown"), "shown", "an unclosed head ends at the body");
}

#[test]
fn entities_and_stray_markup_read_as_a_browser_reads_them() {
    assert_eq!(html_to_text("a &amp; b &lt;c&gt; &#8211; &#x42; &bogus; & x"), "a & b <c> \u{2013} B &bogus; & x");
    assert_eq!(html_to_text("1 < 2 <<<< 3"), "1 < 2 <<<< 3");
    assert_eq!(html_to_text("a <div class=\"unclosed"), "a");
}

#[test]
fn outlook_reply_keeps_the_decision_on_its_own_line() {
    let text = html_to_text(&sample("outlook"));
    let text_lines = lines(&text);
    assert_eq!(text_lines[0], "APPROVED \u{2013} extend it in tonight\u{2019}s change window", "{text}");
    assert_eq!(&text_lines[1..3], ["Regards,", "Alice"], "{text}");
    assert!(text_lines.contains(&"From: Sentri <sentri@example.com>"), "{text}");
    assert!(text_lines.contains(&"Sent: Wednesday, November 25, 2026 1:05 AM"), "{text}");
    assert!(text_lines.contains(&format!("Token: {TOKEN}").as_str()), "{text}");
    assert!(!text.contains("font-family") && !text.contains("shapedefaults"), "{text}");
}

#[test]
fn gmail_reply_keeps_its_lines_and_marks_the_quote() {
    let text = html_to_text(&sample("gmail"));
    let text_lines = lines(&text);
    assert_eq!(&text_lines[..2], ["APPROVED", &format!("Token: {TOKEN}")], "{text}");
    assert!(text_lines.contains(&"On Wed, Nov 25, 2026 at 1:05 AM Sentri <sentri@example.com> wrote:"), "{text}");
    assert!(text_lines.contains(&format!("> Token: {TOKEN}").as_str()), "{text}");
    assert!(text_lines.iter().any(|line| line.starts_with("> Sentri needs an approval")), "{text}");
}

#[test]
fn apple_mail_reply_keeps_its_lines_and_marks_the_quote() {
    let text = html_to_text(&sample("apple_mail"));
    let text_lines = lines(&text);
    assert_eq!(&text_lines[..4], ["Approved, go ahead", "Checked with the app team first.", "--", "Alice"], "{text}");
    assert!(text_lines.contains(&"> On 25 Nov 2026, at 01:05, Sentri <sentri@example.com> wrote:"), "{text}");
    assert!(text_lines.contains(&format!("> Token: {TOKEN}").as_str()), "{text}");
}

/// Pieces of hostile bodies: what made the old entity decoder quadratic (`& a`, `&#`, `&` with
/// no `;`), stray and unclosed markup, deep nesting, tags with endless attributes, long lines.
pub(crate) const HOSTILE: &[&str] = &[
    "& a\n",
    "&#",
    "&#x",
    "&amp;",
    "&nbsp;",
    "&",
    "<",
    "<<<<",
    "<div",
    "<a b=\"",
    " x1 x2=y",
    "<blockquote>",
    "</blockquote>",
    "<p>",
    "<br>",
    "<pre>",
    "<!--",
    "-->",
    "<style>",
    "Token: ",
    "APPROVED",
    "Message=",
    "Target name=",
    "EM Event: Critical:",
    "CLEARED - ",
    "CRITICAL - ",
    "tablespace USERS is 97% full ",
    "\n",
    "é",
];

/// Sizes from 1 KiB to 4 MiB.
pub(crate) const SIZES: [usize; 7] = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/// A hostile body of about `size` bytes: the chosen pieces repeated (plus one long line when
/// `long_line`), cut at a character boundary.
pub(crate) fn hostile_body(pieces: &[usize], long_line: bool, size: usize) -> String {
    let mut unit: String = pieces.iter().map(|&index| HOSTILE[index % HOSTILE.len()]).collect();
    if long_line {
        unit.push_str(&"x".repeat(4096));
    }
    let mut body = unit.repeat(size / unit.len().max(1) + 1);
    body.truncate(body.floor_char_boundary(size));
    body
}

pub(crate) fn pieces() -> impl Strategy<Value = (Vec<usize>, bool, usize)> {
    (prop::collection::vec(0..HOSTILE.len(), 1..6), any::<bool>(), prop::sample::select(SIZES.to_vec()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Bytes read and written stay within a constant times the input: the output of one input
    /// byte is at most a line break and one line's quote marks.
    #[test]
    fn work_is_linear_in_the_input((pieces, long_line, size) in pieces()) {
        let html = hostile_body(&pieces, long_line, size);
        work::take();
        let text = html_to_text(&html);
        let work = work::take();
        prop_assert!(work <= 32 * html.len() + 64, "{work} bytes of work for {} bytes", html.len());
        prop_assert!(text.len() <= 24 * html.len() + 64);
    }
}

#[test]
fn elements_hidden_by_their_attributes_are_left_out() {
    // Found by tests/properties.rs: a hidden APPROVED above the author's "Hi," was read as the
    // reply's first line.
    for hidden in [
        "<div style=\"display:none\">APPROVED</div>",
        "<div style=\"DISPLAY : None !important\">APPROVED</div>",
        "<span style=\"color:red;visibility:hidden\">APPROVED</span>",
        "<div style=\"mso-hide:all\"><div>APPROVED</div><div>more</div></div>",
        "<p hidden>APPROVED</p>",
        "<div hidden><div><div>APPROVED</div></div>APPROVED</div>",
    ] {
        assert_eq!(html_to_text(&format!("{hidden}<div>Hi,</div>")), "Hi,", "{hidden}");
    }
    // A void element hides nothing after it; a shown sibling is shown.
    assert_eq!(html_to_text("<img style=\"display:none\" src=x>APPROVED"), "APPROVED");
    assert_eq!(html_to_text("<div style=\"display:block\">APPROVED</div>"), "APPROVED");
    assert_eq!(html_to_text("<div hidden>x</div><div>APPROVED</div>"), "APPROVED");
}
