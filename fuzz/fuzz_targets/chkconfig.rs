//! How blotctl reads SysV state as chkconfig does, on arbitrary input.
//!
//! Properties:
//! - `parse_header`: a parsed header, written back as `# chkconfig: L S K` with a
//!   description, parses again to the same header;
//! - `list_line`: on a script that supports chkconfig, a service is listed on in a
//!   runlevel only where it has a link, and its line displays in chkconfig's format
//!   (seven `\tN:on|off` fields).
#![no_main]

use blotctl::chkconfig::{list_line, parse_header, ChkconfigError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(h) = parse_header(data) {
        assert!(
            h.levels == "-" || (h.levels.bytes().all(|b| (b'0'..=b'6').contains(&b))),
            "levels {:?}",
            h.levels
        );
        let again = format!(
            "# chkconfig: {} {} {}\n# description: again\n",
            h.levels, h.start, h.stop
        );
        assert_eq!(parse_header(again.as_bytes()), Some(h), "header round trip");
    }

    // The input as rc link names: one per line, `N name` (runlevel digit, space, name).
    let text = String::from_utf8_lossy(data);
    let mut dirs: [Vec<String>; 7] = Default::default();
    for line in text.lines() {
        if let Some((n, name)) = line.split_once(' ') {
            if let Some(slot) = n.parse::<usize>().ok().and_then(|n| dirs.get_mut(n)) {
                slot.push(name.to_string());
            }
        }
    }
    let script = b"# chkconfig: - 20 80\n# description: fuzz\n";
    match list_line("redis", Some(script), &dirs) {
        Ok(l) => {
            for (level, names) in dirs.iter().enumerate() {
                let linked = names.iter().any(|n| n.len() == 8 && n.ends_with("redis"));
                assert!(!l.at_boot[level] || linked, "on without a link");
                assert!(!l.listed.levels[level] || l.at_boot[level], "listed on, not at boot");
            }
            assert_eq!(l.listed.to_string().matches('\t').count(), 7);
        }
        Err(ChkconfigError::NotReferenced(_)) => {}
        Err(e) => panic!("a script that supports chkconfig: {e}"),
    }
});
