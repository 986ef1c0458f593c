//! libnih's config tokeniser (`nih/config.c`) and C number parsing, as upstart 0.6.5's job
//! parser uses them: the positions and line numbers it writes back decide the line an error
//! is reported on.

/// The error messages upstart 0.6.5 (and libnih) use for job-file errors.
pub mod msg {
    pub const EXPECTED_TOKEN: &str = "Expected token";
    pub const UNEXPECTED_TOKEN: &str = "Unexpected token";
    pub const TRAILING_SLASH: &str = "Trailing slash in file";
    pub const UNTERMINATED_QUOTE: &str = "Unterminated quoted string";
    pub const UNTERMINATED_BLOCK: &str = "Unterminated block";
    pub const UNKNOWN_STANZA: &str = "Unknown stanza";
    pub const ILLEGAL_INTERVAL: &str = "Illegal interval, expected number of seconds";
    pub const ILLEGAL_EXIT: &str = "Illegal exit status, expected integer";
    pub const ILLEGAL_UMASK: &str = "Illegal file creation mask, expected octal integer";
    pub const ILLEGAL_NICE: &str = "Illegal nice value, expected -20 to 19";
    pub const ILLEGAL_OOM: &str = "Illegal oom adjustment, expected -16 to 15 or 'never'";
    pub const ILLEGAL_LIMIT: &str = "Illegal limit, expected 'unlimited' or integer";
    pub const EXPECTED_EVENT: &str = "Expected event";
    pub const EXPECTED_OPERATOR: &str = "Expected operator";
    pub const EXPECTED_VARIABLE: &str = "Expected variable name before value";
    pub const MISMATCHED_PARENS: &str = "Mismatched parentheses";
}
use msg::*;

pub(super) type Msg = &'static str;

/// Offset in the file plus the line number: nih's `pos` / `lineno` pair.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cur {
    pub(super) pos: usize,
    pub(super) line: usize,
}

pub(super) const WS: &[u8] = b" \t\r";
pub(super) const CNL: &[u8] = b"#\n";
pub(super) const CNLWS: &[u8] = b" \t\r#\n";
/// Token delimiters inside `start on` / `stop on` expressions.
pub(super) const ON_DELIM: &[u8] = b"() \t\r#\n";

/// `strchr(set, c) != NULL`; like C, this also "finds" a NUL byte.
pub(super) fn in_set(set: &[u8], c: u8) -> bool {
    c == 0 || set.contains(&c)
}

/// Is there a token here, i.e. not at end of file, a comment or a newline?
pub(super) fn has_token(f: &[u8], cur: &Cur) -> bool {
    cur.pos < f.len() && !in_set(CNL, f[cur.pos])
}

/// Skip to just past the next newline (or to end of file).
pub(super) fn next_line(f: &[u8], cur: &mut Cur) {
    while cur.pos < f.len() && f[cur.pos] != b'\n' {
        cur.pos += 1;
    }
    if cur.pos < f.len() {
        cur.line += 1;
        cur.pos += 1;
    }
}

/// Allow only a comment before the end of the line.
pub(super) fn skip_comment(f: &[u8], cur: &mut Cur) -> Result<(), Msg> {
    if has_token(f, cur) {
        return Err(UNEXPECTED_TOKEN);
    }
    next_line(f, cur);
    Ok(())
}

/// Skip blanks, and backslash-newline continuations.
pub(super) fn skip_whitespace(f: &[u8], cur: &mut Cur) {
    while cur.pos < f.len() {
        let c = f[cur.pos];
        if c == b'\\' {
            if f.get(cur.pos + 1) != Some(&b'\n') {
                break;
            }
            cur.pos += 1;
        } else if !in_set(WS, c) {
            break;
        }
        if f[cur.pos] == b'\n' {
            cur.line += 1;
        }
        cur.pos += 1;
    }
}

/// A token as `nih_config_token` copies it, with the length nih computes
/// (which is what "Expected token" checks; it is not always `text.len()`).
pub(super) struct Token {
    pub(super) text: String,
    pub(super) len: usize,
}

/// Port of `nih_config_token`: read up to an unquoted, unescaped delimiter.
/// Quotes may span lines; a backslash-newline continues the token. The
/// position is advanced even when an error is returned, as in nih.
pub(super) fn token(f: &[u8], cur: &mut Cur, delim: &[u8], dequote: bool) -> Result<Token, Msg> {
    let start = cur.pos;
    let (mut ws, mut nlws, mut qc) = (0usize, 0usize, 0usize);
    let (mut slash, mut nl, mut quote) = (false, false, 0u8);
    let mut dest = Vec::new();
    let mut p = start;
    while p < f.len() {
        let c = f[p];
        let mut extra = 0;
        let mut isq = false;
        if slash {
            slash = false;
            if c == b'\n' {
                // Escaped newline: becomes a single space.
                nlws += 1;
                nl = true;
                cur.line += 1;
                p += 1;
                continue;
            } else if c == b'\\' || in_set(WS, c) {
                extra = 1;
                if dequote {
                    qc += 1;
                }
            } else {
                dest.push(b'\\');
            }
        } else if c == b'\\' {
            slash = true;
            p += 1;
            continue;
        } else if quote != 0 {
            if c == quote {
                quote = 0;
                isq = true;
            } else if c == b'\n' {
                nl = true;
                cur.line += 1;
                p += 1;
                continue;
            } else if in_set(WS, c) {
                ws += 1;
                p += 1;
                continue;
            }
        } else if c == b'"' || c == b'\'' {
            quote = c;
            isq = true;
        } else if in_set(delim, c) {
            break;
        } else if in_set(WS, c) {
            ws += 1;
            p += 1;
            continue;
        }

        if nl {
            nlws += ws;
            dest.push(b' ');
        } else if ws > 0 {
            dest.extend_from_slice(&f[p - ws - extra..p - extra]);
        }
        if extra > 0 && !dequote {
            dest.extend_from_slice(&f[p - extra..p]);
        }
        if isq && dequote {
            qc += 1;
        } else {
            dest.push(c);
        }
        ws = 0;
        nl = false;
        p += 1;
    }
    cur.pos = p;
    if slash {
        return Err(TRAILING_SLASH);
    }
    if quote != 0 {
        return Err(UNTERMINATED_QUOTE);
    }
    Ok(Token {
        text: String::from_utf8_lossy(&dest).into_owned(),
        len: (p - start).wrapping_sub(ws + nlws + qc),
    })
}

/// Port of `nih_config_next_token`: a non-empty token, then skip blanks.
pub(super) fn next_token(
    f: &[u8],
    cur: &mut Cur,
    delim: &[u8],
    dequote: bool,
) -> Result<String, Msg> {
    let tok = token(f, cur, delim, dequote)?;
    if tok.len == 0 {
        return Err(EXPECTED_TOKEN);
    }
    skip_whitespace(f, cur);
    Ok(tok.text)
}

/// Port of `nih_config_next_arg`: one dequoted argument.
pub(super) fn next_arg(f: &[u8], cur: &mut Cur) -> Result<String, Msg> {
    next_token(f, cur, CNLWS, true)
}

/// Port of `nih_config_parse_args`: the rest of the line as arguments.
pub(super) fn parse_args(f: &[u8], cur: &mut Cur) -> Result<Vec<String>, Msg> {
    let mut args = Vec::new();
    while has_token(f, cur) {
        args.push(next_arg(f, cur)?);
    }
    next_line(f, cur);
    Ok(args)
}

/// Port of `nih_config_parse_command`: the rest of the line, undequoted.
pub(super) fn parse_command(f: &[u8], cur: &mut Cur) -> Result<String, Msg> {
    let tok = token(f, cur, CNL, false)?;
    next_line(f, cur); // the token stopped at a comment, newline or EOF
    Ok(tok.text)
}

/// Port of `nih_config_block_end`: is this line `end TYPE` (blanks and a
/// trailing comment allowed)? If so, step past it.
pub(super) fn block_end(f: &[u8], cur: &mut Cur, kind: &str) -> bool {
    let (len, kind) = (f.len(), kind.as_bytes());
    let mut p = cur.pos;
    while p < len && in_set(WS, f[p]) {
        p += 1;
    }
    if len - p < 4 || &f[p..p + 3] != b"end" || !in_set(WS, f[p + 3]) {
        return false;
    }
    p += 3;
    while p < len && in_set(WS, f[p]) {
        p += 1;
    }
    if len - p < kind.len() || &f[p..p + kind.len()] != kind {
        return false;
    }
    p += kind.len();
    while p < len && in_set(WS, f[p]) {
        p += 1;
    }
    if p < len && f[p] == b'#' {
        while p < len && f[p] != b'\n' {
            p += 1;
        }
    }
    if p < len && f[p] != b'\n' {
        return false;
    }
    if p < len {
        cur.line += 1;
        p += 1;
    }
    cur.pos = p;
    true
}

/// Port of `nih_config_parse_block` (without keeping the text): skip lines
/// until `end TYPE`; reaching end of file is "Unterminated block".
pub(super) fn parse_block(f: &[u8], cur: &mut Cur, kind: &str) -> Result<(), Msg> {
    while !block_end(f, cur, kind) {
        next_line(f, cur);
        if cur.pos >= f.len() {
            return Err(UNTERMINATED_BLOCK);
        }
    }
    Ok(())
}

/// `exec ARGS`: at least one token, then the rest of the line.
pub(super) fn parse_exec(f: &[u8], cur: &mut Cur) -> Result<String, Msg> {
    if !has_token(f, cur) {
        return Err(EXPECTED_TOKEN);
    }
    parse_command(f, cur)
}

/// `script` (a comment may follow), then the block up to `end script`.
pub(super) fn parse_script(f: &[u8], cur: &mut Cur) -> Result<(), Msg> {
    skip_comment(f, cur)?;
    parse_block(f, cur, "script")
}

// --- C number parsing --------------------------------------------------------

/// C's `strtol`/`strtoul` as upstart checks them (`errno || *endptr`):
/// leading white space and one sign allowed, then only digits. Returns the
/// sign and magnitude, or `None` where upstart reports an error.
pub(super) fn c_number(s: &str, radix: u32) -> Option<(bool, u64)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        // No digits (endptr = start, only "" passes) or trailing junk.
        return s.is_empty().then_some((false, 0));
    }
    u64::from_str_radix(digits, radix).ok().map(|m| (neg, m)) // Err = ERANGE
}

/// `strtol(s, &end, 10)` on a 64-bit `long`.
pub(super) fn strtol(s: &str) -> Option<i64> {
    match c_number(s, 10)? {
        (true, m) if m <= 1 << 63 => Some((m as i64).wrapping_neg()),
        (true, _) => None,
        (false, m) => i64::try_from(m).ok(),
    }
}

/// `strtoul(s, &end, radix)`: a leading `-` negates modulo 2^64, as in C.
pub(super) fn strtoul(s: &str, radix: u32) -> Option<u64> {
    let (neg, m) = c_number(s, radix)?;
    Some(if neg { m.wrapping_neg() } else { m })
}

/// `nih_signal_from_name`: `TERM` or `SIGTERM` style names.
pub(super) fn is_signal_name(s: &str) -> bool {
    const SIGNALS: &[&str] = &[
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "POLL", "IO", "PWR", "SYS",
    ];
    SIGNALS.contains(&s.strip_prefix("SIG").unwrap_or(s))
}
