//! blotctl as a library: the binary (`main.rs`) is a thin shell over [`app::run`]; tests and
//! fuzz targets reach the parsers from here.

pub mod accounts;
pub mod app;
pub mod capture;
pub mod chkconfig;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod engine;
pub mod fault;
pub mod health;
pub mod journal;
pub mod nginx;
pub mod outcome;
pub mod output;
pub mod plan;
pub mod printer;
pub mod remote;
pub mod report;
pub mod rollback;
pub mod steps;
pub mod sys;
pub mod upstart;
pub mod verify;
