//! What an attacker tried against rondo (issue 13), each as a test: the attack as they sent it, and what
//! they must get now — a 4xx naming the field, the process alive, memory flat, nothing stored, nothing sent.

mod csv;
mod emails;
mod headers;
mod metrics;
mod parsers;
mod secret_links;
mod templates;
mod webhooks;
mod windows;
