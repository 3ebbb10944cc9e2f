//! Scribe keeps the incident timeline in chat and drafts the postmortem when it closes.
//!
//! The code map, from the core outwards (ARCHITECTURE.md has the whole story):
//!
//! - [`domain`]: the pure core: chat events, commands, the fold that turns a channel's event
//!   log into incidents, and the words of every answer. Knows nothing of platforms, storage,
//!   templates or the clock.
//! - [`storage`]: the durable, deduplicating event log and job queue (SQLite or PostgreSQL).
//! - [`recorder`]: a channel's fold kept in memory, and the order of fold and store.
//! - [`retention`]: deletes the messages no incident holds, keeping their keys a while.
//! - [`drafting`]: an incident in, a postmortem draft (markdown or JSON) out.
//! - [`jobs`]: every kind of follow-up work ([`jobs::JobKind`]) and the worker that runs it.
//! - [`app`]: the application state every adapter shares ([`app::App`]).
//! - [`assist`]: `/incident assist`, a language model's suggestions asked for off the command
//!   path and checked before anyone sees them; [`redact`]: what never leaves for it.
//! - [`adapters`]: Slack, Discord, the console and chat exports, turned into events, and the
//!   platforms' own jobs.
//! - [`publish`]: drafts to files, to a git branch, to a GitHub pull request (as jobs).
//! - [`followups`]: follow-up actions as GitHub or Jira issues, and the trackers' webhooks.
//! - [`server`]: the HTTP server: health, metrics, the incident API, the web workspace.
//! - [`startup`]: builds the application and runs it (`scribe serve`), with every adapter.
//! - [`replay`]: `scribe draft`, an export replayed into a draft.
//! - [`signin`]: the secrets of sign-in links and web sessions.
//! - [`signing`]: HMAC-SHA256 and constant-time comparison, for request and webhook signatures.
//! - [`config`], [`metrics`], [`telemetry`], [`outbound`], [`terminal`]: configuration,
//!   Prometheus metrics, logging, what the clients of other services share, and text made
//!   inert for a terminal.

pub mod adapters;
pub mod app;
pub mod assist;
pub mod clock;
pub mod config;
pub mod domain;
pub mod drafting;
pub mod followthrough;
pub mod followups;
pub mod indexer;
pub mod insights;
pub mod jobs;
pub mod metrics;
pub mod outbound;
pub mod publish;
pub mod recorder;
pub mod redact;
pub mod replay;
pub mod retention;
pub mod search;
pub mod server;
pub mod signin;
pub mod signing;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod terminal;
