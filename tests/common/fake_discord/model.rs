//! The fake's model of Discord: the one guild's members, channels and threads, every message
//! with its pins, reactions and attachments, the interactions and registered commands, and what
//! the bot posted. It renders them as Discord's JSON objects (users, members, channels,
//! messages, the guild, the application) so that the gateway and REST sides answer alike.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::Utc;
use serde_json::{Value, json};

use super::gateway::Gateway;
use super::rest::{Call, Rig};
use super::{APPLICATION_ID, BOT_USERNAME, GUILD_ID, iso, snowflake_at, snowflake_time};

fn iso_of(id: u64) -> String {
    iso(snowflake_time(&id.to_string()))
}

/// A message the bot created with `POST /channels/{id}/messages`.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The JSON body or the multipart `payload_json`.
    pub body: Value,
    /// `files[n]` parts: filename and content.
    pub files: Vec<(String, Vec<u8>)>,
    /// The message object the fake answered with.
    pub message: Value,
}

impl Posted {
    pub fn content(&self) -> &str {
        self.body["content"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
pub(super) struct FakeState {
    /// `127.0.0.1:PORT`
    pub(super) addr: String,
    pub(super) calls: Vec<Call>,
    pub(super) rigs: Vec<Rig>,
    /// Rate-limited buckets: method, path part, and when the limit resets.
    pub(super) limited: Vec<(String, String, Instant)>,
    /// Slow calls: method, path part, and how long the next matching call takes.
    pub(super) slow: Vec<(String, String, std::time::Duration)>,
    pub(super) members: BTreeMap<String, MemberInfo>,
    pub(super) channels: BTreeMap<String, ChannelInfo>,
    /// Every message of every channel, by id (deleted ones are removed).
    pub(super) messages: BTreeMap<u64, Stored>,
    pub(super) posted: Vec<(String, Posted)>,
    pub(super) guild_commands: Vec<Value>,
    pub(super) global_commands: Vec<Value>,
    pub(super) command_ids: HashMap<String, String>,
    pub(super) interactions: HashMap<String, InteractionInfo>,
    pub(super) last_id: u64,
    pub(super) pin_serial: u64,
    /// The bot's messages by channel and nonce, for `enforce_nonce`.
    pub(super) nonces: HashMap<(String, String), u64>,
    pub(super) gateway: Gateway,
}

#[derive(Clone)]
pub(super) struct MemberInfo {
    pub(super) username: String,
    pub(super) global_name: Option<String>,
    pub(super) nick: Option<String>,
    pub(super) joined_at: String,
}

#[derive(Clone)]
pub(super) struct ChannelInfo {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) parent: Option<String>,
    pub(super) kind: u8,
}

#[derive(Clone)]
pub(super) struct Stored {
    pub(super) id: u64,
    pub(super) channel: String,
    pub(super) author: String,
    pub(super) content: String,
    pub(super) edited: Option<String>,
    /// The order it was pinned in, while pinned.
    pub(super) pinned: Option<u64>,
    kind: u8,
    attachments: Vec<Value>,
    /// Emoji name → users who reacted with it, in order.
    pub(super) reactions: Vec<(String, Vec<String>)>,
    pub(super) webhook_id: Option<String>,
    pub(super) interaction: Option<Value>,
    pub(super) mention_everyone: bool,
}

pub(super) struct InteractionInfo {
    /// Discord's interaction type: 2 a command, 3 a component, 5 a modal submit.
    pub(super) kind: u64,
    /// The INTERACTION_CREATE data, for a replay.
    pub(super) payload: Value,
    pub(super) token: String,
    pub(super) channel: String,
    pub(super) user: String,
    pub(super) name: String,
    pub(super) created: Instant,
    /// The callback body, once answered.
    pub(super) response: Option<Value>,
    /// The id of the response message, once there is one.
    pub(super) original: Option<u64>,
    /// After a private deferral: what the asker alone sees in place of "thinking…", once
    /// `@original` was edited or the first follow-up took its place.
    pub(super) private_answer: Option<Value>,
}

impl Stored {
    pub(super) fn new(
        id: u64,
        channel: &str,
        author: &str,
        content: &str,
        kind: u8,
        attachments: Vec<Value>,
    ) -> Stored {
        Stored {
            id,
            channel: channel.to_owned(),
            author: author.to_owned(),
            content: content.to_owned(),
            edited: None,
            pinned: None,
            kind,
            attachments,
            reactions: Vec::new(),
            webhook_id: None,
            interaction: None,
            mention_everyone: false,
        }
    }
}

impl FakeState {
    pub(super) fn next_id(&mut self) -> u64 {
        let now: u64 = snowflake_at(Utc::now(), 0).parse().unwrap();
        self.last_id = (self.last_id + 1).max(now);
        self.last_id
    }

    pub(super) fn message_mut(&mut self, channel_id: &str, message_id: &str) -> &mut Stored {
        let id: u64 = message_id.parse().expect("a snowflake");
        self.messages
            .get_mut(&id)
            .filter(|m| m.channel == channel_id)
            .unwrap_or_else(|| panic!("no message {message_id} in channel {channel_id}"))
    }

    pub(super) fn user_json(&self, user_id: &str) -> Value {
        let info = self.members.get(user_id);
        let mut user = json!({
            "id": user_id,
            "username": info.map_or_else(|| format!("user{user_id}"), |m| m.username.clone()),
            "discriminator": "0",
            "global_name": info.and_then(|m| m.global_name.clone()),
            "avatar": null,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
            "collectibles": null,
            "primary_guild": null,
        });
        if user_id == APPLICATION_ID {
            user["bot"] = json!(true);
        }
        user
    }

    /// A guild member object; `with_user` is false for the partial member a MESSAGE_CREATE or
    /// a resolved option carries.
    pub(super) fn member_json(&self, user_id: &str, with_user: bool) -> Value {
        let info = self.members.get(user_id);
        let mut member = json!({
            "nick": info.and_then(|m| m.nick.clone()),
            "avatar": null,
            "banner": null,
            "roles": [],
            "joined_at": info.map_or("2024-02-01T08:00:00.000000+00:00".to_owned(), |m| m.joined_at.clone()),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
        });
        if with_user {
            member["user"] = self.user_json(user_id);
        }
        member
    }

    pub(super) fn channel_json(&self, info: &ChannelInfo) -> Value {
        let last = self
            .messages
            .values()
            .rev()
            .find(|m| m.channel == info.id)
            .map(|m| m.id.to_string());
        if info.kind == 11 {
            let count = self
                .messages
                .values()
                .filter(|m| m.channel == info.id)
                .count();
            let created = iso_of(info.id.parse().unwrap_or(0));
            json!({
                "id": info.id,
                "type": 11,
                "guild_id": GUILD_ID,
                "parent_id": info.parent,
                "owner_id": self.members.keys().find(|k| *k != APPLICATION_ID).cloned().unwrap_or_else(|| APPLICATION_ID.to_owned()),
                "name": info.name,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "flags": 0,
                "message_count": count,
                "member_count": 2,
                "total_message_sent": count,
                "thread_metadata": {
                    "archived": false,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": created,
                    "locked": false,
                    "create_timestamp": created,
                },
            })
        } else {
            json!({
                "id": info.id,
                "type": 0,
                "guild_id": GUILD_ID,
                "name": info.name,
                "position": 0,
                "permission_overwrites": [],
                "parent_id": null,
                "nsfw": false,
                "topic": null,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "flags": 0,
                "icon_emoji": null,
                "theme_color": null,
            })
        }
    }

    /// A message object as the REST API returns it.
    pub(super) fn message_json(&self, m: &Stored) -> Value {
        let mut message = json!({
            "type": m.kind,
            "channel_id": m.channel,
            "content": m.content,
            "attachments": m.attachments,
            "embeds": [],
            "timestamp": iso_of(m.id),
            "edited_timestamp": m.edited,
            "flags": 0,
            "components": [],
            "id": m.id.to_string(),
            "author": self.user_json(&m.author),
            "mentions": [],
            "mention_roles": [],
            "pinned": m.pinned.is_some(),
            "mention_everyone": m.mention_everyone,
            "tts": false,
        });
        if !m.reactions.is_empty() {
            message["reactions"] = m
                .reactions
                .iter()
                .map(|(emoji, users)| {
                    json!({
                        "emoji": {"id": null, "name": emoji},
                        "count": users.len(),
                        "count_details": {"burst": 0, "normal": users.len()},
                        "burst_colors": [],
                        "me_burst": false,
                        "burst_me": false,
                        "me": users.iter().any(|u| u == APPLICATION_ID),
                        "burst_count": 0,
                    })
                })
                .collect();
        }
        if let Some(webhook) = &m.webhook_id {
            message["webhook_id"] = json!(webhook);
            message["application_id"] = json!(APPLICATION_ID);
        }
        if let Some(interaction) = &m.interaction {
            message["interaction_metadata"] = interaction.clone();
        }
        if let Some(position) = self.thread_position(m) {
            message["position"] = json!(position);
        }
        message
    }

    fn thread_position(&self, m: &Stored) -> Option<usize> {
        let info = self.channels.get(&m.channel)?;
        (info.kind == 11).then(|| {
            self.messages
                .values()
                .filter(|o| o.channel == m.channel && o.id < m.id)
                .count()
        })
    }

    /// A message as MESSAGE_CREATE / MESSAGE_UPDATE carry it: with `guild_id` and `member`.
    pub(super) fn gateway_message(&self, m: &Stored) -> Value {
        let mut message = self.message_json(m);
        message["guild_id"] = json!(GUILD_ID);
        message["member"] = self.member_json(&m.author, false);
        message.as_object_mut().unwrap().remove("reactions");
        message
    }

    pub(super) fn guild_json(&self) -> Value {
        let members: Vec<Value> = self
            .members
            .keys()
            .map(|id| self.member_json(id, true))
            .collect();
        let channels: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.kind != 11)
            .map(|c| self.channel_json(c))
            .collect();
        let threads: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.kind == 11)
            .map(|c| self.channel_json(c))
            .collect();
        let owner = self
            .members
            .keys()
            .find(|k| *k != APPLICATION_ID)
            .cloned()
            .unwrap_or_else(|| "1175931000000000001".to_owned());
        let mut guild = json!({
            "id": GUILD_ID,
            "name": "Acme Ops",
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": owner,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": [{
                "id": GUILD_ID,
                "name": "@everyone",
                "description": null,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
                "hoist": false,
                "icon": null,
                "unicode_emoji": null,
                "position": 0,
                "permissions": "2248473465835073",
                "managed": false,
                "mentionable": false,
                "flags": 0,
            }],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
        });
        let more = json!({
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
            "joined_at": "2023-11-20T09:12:44.512000+00:00",
            "large": false,
            "unavailable": false,
            "member_count": members.len(),
            "voice_states": [],
            "members": members,
            "channels": channels,
            "threads": threads,
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": true,
        });
        guild
            .as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        guild
    }

    pub(super) fn application_json(&self) -> Value {
        json!({
            "id": APPLICATION_ID,
            "name": BOT_USERNAME,
            "icon": null,
            "description": "Keeps the incident timeline.",
            "summary": "",
            "type": null,
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "1e0a356058d627ca38a5c8c9648818061d49e49bd9da9e3ab17d98ad4d6bg2u8",
            "flags": 565_248,
            "owner": self.user_json("1175931000000000001"),
            "team": null,
            "guild_id": GUILD_ID,
            "bot": self.user_json(APPLICATION_ID),
            "interactions_endpoint_url": null,
            "role_connections_verification_url": null,
            "redirect_uris": [],
            "tags": [],
            "integration_types_config": {"0": {}},
            "approximate_guild_count": 1,
        })
    }
}
