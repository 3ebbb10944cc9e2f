//! Adapters: turn what a chat platform or its export says into the domain's chat events.

pub mod console;
pub mod discord;
pub mod export;
pub mod slack;
