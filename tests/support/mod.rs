//! Test support shared by the integration tests: `spawn_app` (the real service on a random port with a
//! fresh database, a settable clock and scriptable calendars) and typed helpers that call it as its users do.

#![allow(dead_code)]

pub mod app;
pub mod browser;
pub mod calendar;
pub mod console;
pub mod fake_common;
pub mod google;
pub mod microsoft;
pub mod postgres;
pub mod process;
pub mod receiver;
pub mod smtp;
pub mod webdriver;

pub use app::*;
