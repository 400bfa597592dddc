//! The admin console, driven in headless Chromium as an admin uses it (issue 15). Each test saves a
//! screenshot under target/screenshots/.

mod agents;
mod jobs;
mod meetings;
mod routing;
mod teams;
mod webhooks;
