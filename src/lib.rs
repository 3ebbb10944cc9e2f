//! Scribe keeps the incident timeline in chat and drafts the postmortem when it closes.
//!
//! The code map (ARCHITECTURE.md has the whole story):
//!
//! - [`domain`]: the pure core: chat events, commands, the fold that turns a channel's event
//!   log into incidents. Knows nothing of platforms, storage, templates or the clock.
//! - [`storage`]: the durable, deduplicating event log ([`storage::Store`]; SQLite).
//! - [`recorder`]: store an event, then fold its channel: the path of every live message.
//! - [`drafting`]: an incident in, a postmortem draft (markdown or JSON) out.
//! - [`adapters`]: chat exports, Slack markup and the terminal console, turned into events.
//! - [`publish`]: drafts to files, to a git branch, to a GitHub pull request (as jobs).
//! - [`jobs`]: the worker that runs stored jobs (posts, uploads) with retries.
//! - [`outbound`]: what the clients of other services share (backoff, error text).
//! - [`server`]: `scribe serve`: Slack's HTTP routes, health, metrics, the incident API.
//! - [`config`]: layered configuration (embedded defaults, a file, the environment).

pub mod adapters;
pub mod config;
pub mod domain;
pub mod drafting;
pub mod jobs;
pub mod outbound;
pub mod publish;
pub mod recorder;
pub mod server;
pub mod storage;
