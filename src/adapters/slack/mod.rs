//! Slack: message markup now; the live Events API adapter comes later.

pub mod markup;
