//! The pure core of rondo: value types that can only be built valid, the settings admins and agents change,
//! free-slot computation, round-robin routing and the shapes of meetings and activities. Nothing here does I/O or reads the clock: callers pass
//! `now` and the data they loaded, and get decisions back.

pub mod availability;
pub mod destination;
pub mod fairness;
pub mod limits;
pub mod model;
pub mod routing;
pub mod settings;
pub mod values;

pub use values::*;
