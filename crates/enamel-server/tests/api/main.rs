//! The HTTP application's integration suite: one binary, one module per concern.

// The suite's `on_both_backends!` is the test kit's, for every module below.
#[macro_use]
extern crate enamel_testkit;

mod agreement;
mod assistant;
mod audit;
mod browser;
mod console;
mod errors;
mod headers;
mod health;
mod helpers;
mod identity;
mod join;
mod lists;
mod metrics;
mod notifications;
mod onboarding;
mod openapi;
mod opendental;
mod operator;
mod portal;
mod practice_schedule;
mod recovery;
mod referrals;
mod retention;
mod schedules;
mod settings;
mod shutdown;
mod staff_ui;
mod tls;
