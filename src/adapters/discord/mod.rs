//! Discord, live through serenity: the gateway connection, slash commands, message capture
//! with catch-up after downtime, and the posts Scribe makes. serenity's types stay in this
//! module; the rest of Scribe sees chat events and jobs.

pub mod commands;
pub mod gateway;
pub mod inbound;
pub mod intake;
pub mod invite;
pub mod jobs;
pub mod rest;

pub use gateway::run;
pub use rest::DiscordApi;
