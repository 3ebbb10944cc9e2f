//! Scribe keeps the incident timeline in chat and drafts the postmortem when it closes.

pub mod adapters;
pub mod domain;
pub mod drafting;
pub mod storage;
