//! Integration tests: one binary, the real service over HTTP, driven the way its users drive it.

#[path = "../support/mod.rs"]
mod support;

mod activities;
mod admin;
mod availability;
mod bookings;
mod cli;
mod connect;
mod console;
mod crash;
mod email;
mod errors;
mod fakes;
mod hardening;
mod metrics;
mod ops;
mod outbox;
mod replicas;
mod routing;
mod store;
mod visitor;
mod webhooks;
