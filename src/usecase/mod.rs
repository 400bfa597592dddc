//! Use cases: what each caller can ask of rondo, as plain async functions over the `App` state. They load
//! data through the store and calendar ports, let the pure domain decide, and write the outcome back.

pub mod admin;
pub mod availability;
pub mod booking;
pub mod connect;
pub mod retention;
pub mod visitor;
