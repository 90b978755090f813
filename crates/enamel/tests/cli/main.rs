//! The `enamel` command, run as a newcomer or an operator would run it.

mod architecture;
mod attachments;
mod audit;
mod config;
mod demo;
mod helpers;
mod import;
mod keys;
mod migrate;
mod practice;
mod serve;
mod worker;
