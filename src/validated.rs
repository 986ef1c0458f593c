//! What the validators accepted, recorded by the engine, so that `verify` runs a validator
//! again only when what it read has changed.
//!
//! When the engine writes a file whose contents a validator accepted while planning (visudo
//! for /etc/sudoers, `monit -t` for the monit control file), it records in [`RECORD`],
//! beside the journal, the sha256 of every file the validator read (the file as written and
//! each file it includes), which program validated it ([`ProgramId`]) and the run's id. It is
//! the engine's own bookkeeping, not a planned change: a dry run, or a run that changes
//! nothing, writes none.
//!
//! `verify` computes the same files and hashes from the box as it is now, and the identity
//! of the validator on PATH now. The check passes without running the validator only when
//! the record is safe to trust (a regular file, no link on the way, root's and writable by
//! no one else, one that parses) and says exactly that: the same files, the same hashes, the
//! same program. A changed or new include, a changed validator, a missing or damaged record:
//! the validator runs, as it would without a record.

use crate::sys::{Look, ProgramId, Sys};
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Where the engine records what the validators accepted.
pub const RECORD: &str = "/var/lib/blotctl/validated.json";

/// The sha256 of some bytes, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// One validator's verdict on a set of files: what it was and what it read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// The program's name (`visudo`, `monit`).
    pub validator: String,
    pub program: ProgramId,
    /// `(box path, sha256)` of each file the validator read, in the order it read them.
    pub files: Vec<(String, String)>,
}

impl Validation {
    /// A validation of `files` (box path, contents) by `validator` as it is on PATH now;
    /// `None` when it is not on PATH.
    pub fn of<'f>(
        sys: &dyn Look,
        validator: &str,
        files: impl IntoIterator<Item = (&'f str, &'f [u8])>,
    ) -> Option<Validation> {
        Some(Validation {
            validator: validator.into(),
            program: sys.program_id(validator)?,
            files: files
                .into_iter()
                .map(|(p, b)| (p.to_string(), sha256(b)))
                .collect(),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    run_id: String,
    #[serde(flatten)]
    validation: Validation,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    validations: Vec<Entry>,
}

/// The record, if there is one that can be trusted: read with no link on the way, a
/// regular file of one link, root's, writable by no one else, in directories no one but
/// root can write (else another user could swap in an old record of root's), and parsed.
fn load(sys: &dyn Look) -> Option<Record> {
    let (bytes, meta) = sys.observe(RECORD).ok()??;
    if meta.uid != 0 || meta.mode & 0o022 != 0 || !matches!(sys.nonroot_writer(RECORD), Ok(None)) {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// Record that run `run_id` wrote files that `v` accepted (replacing what the record said
/// of the same validator). An untrustworthy record is replaced whole.
pub fn record(sys: &Sys, v: &Validation, run_id: &str) -> Result<()> {
    let mut r = load(sys).unwrap_or_default();
    r.validations
        .retain(|e| e.validation.validator != v.validator);
    r.validations.push(Entry {
        run_id: run_id.into(),
        validation: v.clone(),
    });
    sys.write_atomic(RECORD, &serde_json::to_vec_pretty(&r)?, 0o600, 0, 0)
}

/// The run whose recorded validation is exactly `now` (same validator, same program, same
/// files with the same contents), if any.
pub fn unchanged_since(sys: &dyn Look, now: &Validation) -> Option<String> {
    load(sys)?
        .validations
        .into_iter()
        .find(|e| e.validation == *now)
        .map(|e| e.run_id)
}
