//! `scribe discord-invite`: the link that adds Scribe's bot to a Discord server, asking for the
//! permissions Scribe uses and no others.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serenity::all::Permissions;

use crate::config::{ApplicationId, Secret};

/// What Scribe does in a server's channels, each permission for what needs it:
/// - `VIEW_CHANNEL`: the gateway sends only the messages, edits, reactions and pins of channels
///   the bot can see, and a channel's name (for the draft) is read from the channel itself.
/// - `READ_MESSAGE_HISTORY`: the catch-up on connect reads the messages after the last one
///   stored, a message a reaction or pin is on, who gave each 📌, and the pinned messages.
/// - `SEND_MESSAGES`: the closing summary and the reports of what failed (`jobs.rs`).
/// - `SEND_MESSAGES_IN_THREADS`: the same in a thread, where an incident started in a thread
///   of a channel without one lives (`intake::command_place`).
/// - `ATTACH_FILES`: the draft attached to the summary.
///
/// Slash commands and their answers need the `applications.commands` scope, not a permission;
/// reading messages' text needs the Message Content intent, switched on in the developer
/// portal. Scribe adds no reactions, embeds, threads or roles, so it asks for none of those.
pub fn permissions() -> Permissions {
    Permissions::VIEW_CHANNEL
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::SEND_MESSAGES
        | Permissions::SEND_MESSAGES_IN_THREADS
        | Permissions::ATTACH_FILES
}

/// The invite link for `application`: the bot and its slash commands, with [`permissions`].
pub fn url(application: ApplicationId) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application}\
         &scope=bot+applications.commands&permissions={}",
        permissions().bits()
    )
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InviteError {
    #[error(
        "no Discord application id: set [discord] application_id (SCRIBE__DISCORD__APPLICATION_ID) \
         or DISCORD_TOKEN"
    )]
    Unknown,
    #[error(
        "DISCORD_TOKEN does not begin with an application id, as a bot token does: set \
         [discord] application_id (SCRIBE__DISCORD__APPLICATION_ID)"
    )]
    NotABotToken,
}

/// The application to invite: `[discord] application_id`, or else the one a bot token begins
/// with (its first dot-separated part is the bot's id in base64, and a bot's id is its
/// application's).
///
/// # Errors
/// When neither is set, or the token does not begin with an id.
pub fn application(
    configured: Option<ApplicationId>,
    token: Option<&Secret>,
) -> Result<ApplicationId, InviteError> {
    if let Some(id) = configured {
        return Ok(id);
    }
    let token = token.ok_or(InviteError::Unknown)?.expose().trim();
    let token = token.strip_prefix("Bot ").unwrap_or(token);
    // Discord writes the id without padding; a token pasted with it is read all the same.
    let lenient = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let first = token.split('.').next().unwrap_or_default();
    lenient
        .decode(first)
        .ok()
        .and_then(|id| String::from_utf8(id).ok())
        .and_then(|id| ApplicationId::new(&id).ok())
        .ok_or(InviteError::NotABotToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permissions_are_view_read_history_send_and_attach() {
        // 1024 + 65536 + 2048 + 2^38 + 32768, as Discord's permission calculator adds them up.
        assert_eq!(permissions().bits(), 274_878_008_320);
    }

    #[test]
    fn the_application_is_configured_or_read_from_the_token() {
        let configured = ApplicationId::new("1155550123456789012").unwrap();
        // "MTIzNDU2Nzg5MDEyMzQ1Njc4" is base64 for "123456789012345678".
        let token = Secret::new("MTIzNDU2Nzg5MDEyMzQ1Njc4.GhJkLm.aBcDeFgHiJkLmNoPqRsTuVwXyZ012345");
        assert_eq!(application(Some(configured), Some(&token)), Ok(configured));
        let read = application(None, Some(&token)).unwrap();
        assert_eq!(read.get(), 123_456_789_012_345_678);
        let prefixed = Secret::new(format!("Bot {}", token.expose()));
        assert_eq!(application(None, Some(&prefixed)), Ok(read));
        assert_eq!(application(None, None), Err(InviteError::Unknown));
        for bad in ["not-a-token", "aGVsbG8.x.y", "", "MA.x.y"] {
            assert_eq!(
                application(None, Some(&Secret::new(bad))),
                Err(InviteError::NotABotToken),
                "{bad}"
            );
        }
        assert_eq!(
            url(read),
            "https://discord.com/oauth2/authorize?client_id=123456789012345678\
             &scope=bot+applications.commands&permissions=274878008320"
        );
    }
}
