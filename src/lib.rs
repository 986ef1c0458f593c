//! blotctl as a library: the binary (`main.rs`) is a thin shell over [`commands::exec`]; tests and
//! fuzz targets reach the parsers from here.

pub mod accounts;
pub mod capture;
pub mod chkconfig;
pub mod cli;
pub mod commands;
pub mod config;
pub mod ctx;
pub mod engine;
pub mod failure;
pub mod git;
pub mod health;
pub mod jobconf;
pub mod jobs;
pub mod journal;
pub mod nginx;
pub mod outcome;
pub mod output;
pub mod paths;
pub mod plan;
pub mod printer;
pub mod remote;
pub mod render;
pub mod report;
pub mod rollback;
pub mod run;
pub mod settings;
pub mod steps;
pub mod sys;
pub mod upstart;
pub mod validated;
pub mod verify;
