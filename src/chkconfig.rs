// TEMPORARY STUB (lead engineer) — helper replaces this file with the real module.
use std::fmt;
#[derive(Debug, Clone)]
pub struct ServiceLevels { pub name: String, pub levels: [bool; 7] }
impl ServiceLevels { pub fn any_on(&self) -> bool { self.levels.iter().any(|b| *b) } }
#[derive(Debug)]
pub struct ParseError(pub String);
impl fmt::Display for ParseError { fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { f.write_str(&self.0) } }
pub fn parse_list_line(_out: &str) -> Result<ServiceLevels, ParseError> { Err(ParseError("stub".into())) }
pub enum ChkconfigError { NoSuchService(String), NotSupported(String), NotReferenced(String), Other(String) }
pub fn classify_stderr(_s: &str) -> ChkconfigError { ChkconfigError::Other(String::new()) }
pub fn levels_from_links(_names: &[(u8, String)], _service: &str) -> Option<ServiceLevels> { None }
