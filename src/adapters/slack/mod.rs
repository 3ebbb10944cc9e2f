//! Slack: message markup, request signatures, and what the Events API and slash commands send.

pub mod http;
pub mod inbound;
pub mod intake;
pub mod jobs;
pub mod markup;
pub mod signature;
pub mod socket;
pub(crate) mod ts;
pub mod web;
