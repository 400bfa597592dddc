//! The admin API: agents, teams and their round-robin queues, and the meetings report.

pub mod agents;
pub mod invitation;
pub mod jobs;
pub mod meetings;
pub mod teams;
pub mod webhooks;
