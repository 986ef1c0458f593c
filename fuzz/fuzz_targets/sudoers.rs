//! `remove_requiretty` on arbitrary sudoers text, for several app users.
//!
//! Properties of an edit:
//! - it reports at least one line, in increasing order, and keeps the line count;
//! - lines it does not report are byte-identical, reported lines differ;
//! - on a reported line that is not commented out, every option except requiretty
//!   survives and no empty option appears (no dangling comma);
//! - it is idempotent: editing the output again finds nothing.
#![no_main]

use blotctl::steps::sudoers::remove_requiretty;
use libfuzzer_sys::fuzz_target;

const USERS: &[&str] = &["ec2-user", "root", "ALL", "#0"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for user in USERS {
        check(text, user);
    }
});

fn check(text: &str, user: &str) {
    let Ok(Some(edit)) = remove_requiretty(text, user) else {
        return;
    };
    assert!(!edit.lines.is_empty(), "an edit reports its lines");
    assert!(
        edit.lines.windows(2).all(|w| w[0] < w[1]),
        "lines not increasing: {:?}",
        edit.lines
    );
    let before: Vec<&str> = text.split_inclusive('\n').collect();
    let after: Vec<&str> = edit.text.split_inclusive('\n').collect();
    assert_eq!(before.len(), after.len(), "the edit changed the line count");
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if edit.lines.contains(&(i + 1)) {
            assert_ne!(b, a, "line {} reported but unchanged", i + 1);
            // Either commented out (a `#` in front) or only requiretty removed.
            if a.strip_prefix('#') != Some(*b) {
                check_options_kept(b, a);
            }
        } else {
            assert_eq!(b, a, "line {} changed but not reported", i + 1);
        }
    }
    match remove_requiretty(&edit.text, user) {
        Ok(None) => {}
        other => panic!("not idempotent for {user:?}: {other:?}"),
    }
}

/// A `Defaults` line as `(segments, words)`: its first word (`Defaults`, with any scope
/// list) taken whole, then its options up to a `#` comment outside double quotes, as
/// comma-separated segments (trimmed) and as words (split at blanks and commas outside
/// quotes). Quotes and comments count only in the options, as in sudoers.
fn scan(line: &str) -> (Vec<&str>, Vec<&str>) {
    let line = line.trim_end_matches(['\n', '\r']).trim_start();
    let head_end = line.find([' ', '\t']).unwrap_or(line.len());
    let (head, opts) = line.split_at(head_end);
    let mut end = opts.len();
    let mut quoted = false;
    for (i, c) in opts.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let opts = &opts[..end];
    let (mut segs, mut words) = (Vec::new(), vec![head]);
    let (mut seg, mut word) = (0, None::<usize>);
    let mut quoted = false;
    for (i, c) in opts.char_indices() {
        let sep = !quoted && (c == ',' || c.is_whitespace());
        if c == '"' {
            quoted = !quoted;
        }
        if sep {
            if let Some(w) = word.take() {
                words.push(&opts[w..i]);
            }
        } else if word.is_none() {
            word = Some(i);
        }
        if c == ',' && !quoted {
            segs.push(opts[seg..i].trim());
            seg = i + 1;
        }
    }
    if let Some(w) = word {
        words.push(&opts[w..]);
    }
    segs.push(opts[seg..].trim());
    (segs, words)
}

/// The edited line lost only requiretty: the same words apart from requiretty, and no more
/// empty comma-separated segments than before (no dangling comma).
fn check_options_kept(before: &str, after: &str) {
    let ((sb, wb), (sa, wa)) = (scan(before), scan(after));
    let empty = |v: &[&str]| v.iter().filter(|s| s.is_empty()).count();
    assert!(
        empty(&sa) <= empty(&sb),
        "the edit left an empty option: {before:?} -> {after:?}"
    );
    let keep = |v: Vec<&str>| -> Vec<String> {
        v.into_iter()
            .filter(|w| *w != "requiretty")
            .map(String::from)
            .collect()
    };
    assert_eq!(
        keep(wb),
        keep(wa),
        "the edit changed more than requiretty: {before:?} -> {after:?}"
    );
}
