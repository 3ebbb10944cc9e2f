//! The gateway connection (serenity's client): slash commands answered within Discord's three
//! seconds, and everything else handed, in arrival order, to the [`Intake`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serenity::all::{
    ActionRowComponent, ChannelId, ChannelPinsUpdateEvent, ClientBuilder, Command,
    CommandInteraction, CommandType, ComponentInteraction, ComponentInteractionDataKind, Context,
    CreateAllowedMentions, CreateAttachment, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, EditInteractionResponse,
    EventHandler, GatewayIntents, GuildId, Interaction, InteractionId, Member, Message,
    MessageInteractionMetadata, MessageUpdateEvent, ModalInteraction, Reaction, Ready,
    ResolvedTarget, ResumedEvent, User, UserId,
};
use serenity::builder::Builder;
use tokio::sync::mpsc;

use super::commands::{self, Invocation};
use super::inbound::display_name;
use super::intake::{GatewayEvent, Intake};
use super::jobs::{clip, headline};
use crate::app::App;
use crate::config::Secret;
use crate::domain::{Author, ChatEvent, EventKind, MessageId, Outcome, Platform, reply};
use crate::drafting::slug;
use crate::storage::{Store, WebIdentity};

/// Past this, a command is deferred (Discord shows "thinking…") and answered when done.
const DEFER_AFTER: Duration = Duration::from_millis(2000);

/// What Scribe reads: servers and channels, messages with their text, reactions.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
        | GatewayIntents::MESSAGE_CONTENT
}

/// Connects to the gateway and serves until `shutdown` completes (serenity reconnects and
/// resumes by itself in between).
pub async fn run(app: Arc<App>, token: Secret, shutdown: impl Future<Output = ()>) {
    let http = super::rest::http(&app.config.discord, &token);
    let guilds = app.config.discord.guild_ids.clone();
    let intake = Arc::new(Intake::new(app));
    let (queue, mut arrivals) = mpsc::unbounded_channel::<(Context, GatewayEvent)>();
    let consumer = {
        let intake = Arc::clone(&intake);
        tokio::spawn(async move {
            while let Some((ctx, inbound)) = arrivals.recv().await {
                intake.handle(&ctx, inbound).await;
            }
        })
    };
    let handler = Handler {
        intake,
        queue,
        guilds,
        registered: AtomicBool::new(false),
    };
    let mut client = match ClientBuilder::new_with_http(http, intents())
        .event_handler(handler)
        .await
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot start the Discord client");
            return;
        }
    };
    let shards = Arc::clone(&client.shard_manager);
    tokio::select! {
        result = client.start() => {
            if let Err(error) = result {
                tracing::error!(%error, "the Discord connection ended; check DISCORD_TOKEN and the bot's intents");
            }
        }
        () = shutdown => shards.shutdown_all().await,
    }
    drop(client);
    let _ = consumer.await;
}

struct Handler {
    intake: Arc<Intake>,
    queue: mpsc::UnboundedSender<(Context, GatewayEvent)>,
    guilds: Vec<u64>,
    registered: AtomicBool,
}

impl Handler {
    fn enqueue(&self, ctx: Context, inbound: GatewayEvent) {
        if self.queue.send((ctx, inbound)).is_err() {
            tracing::warn!("Discord event dropped while shutting down");
        }
    }

    async fn register(&self, ctx: &Context) {
        if self.registered.swap(true, Ordering::SeqCst) {
            return;
        }
        let result = if self.guilds.is_empty() {
            Command::set_global_commands(&ctx.http, commands::definitions())
                .await
                .map(drop)
        } else {
            let mut result = Ok(());
            for guild in &self.guilds {
                result = result.and(
                    GuildId::new(*guild)
                        .set_commands(&ctx.http, commands::definitions())
                        .await
                        .map(drop),
                );
            }
            result
        };
        match result {
            Ok(()) => tracing::info!(guilds = ?self.guilds, "slash commands registered"),
            Err(error) => {
                self.registered.store(false, Ordering::SeqCst);
                tracing::error!(%error, "cannot register the slash commands");
            }
        }
    }

    /// A slash command: a title-less start opens the start form, the rest is stored and
    /// answered.
    async fn command(&self, ctx: &Context, command: &CommandInteraction) {
        let resolved = &command.data.resolved;
        let name_of = |user| {
            let nick = resolved.members.get(&user).and_then(|m| m.nick.as_deref());
            match resolved.users.get(&user) {
                Some(found) => display_name(nick, found),
                None => user.to_string(),
            }
        };
        let invocation =
            Invocation::from_options(&command.data.name, &command.data.options, name_of);
        if invocation.is_untitled_start() {
            let form = commands::start_modal(invocation.option("severity"));
            if let Err(error) = CreateInteractionResponse::Modal(form)
                .execute(&ctx.http, (command.id, &command.token))
                .await
            {
                tracing::warn!(%error, "cannot open the start form");
            }
            return;
        }
        let asked = Asked::new(
            command.id,
            &command.token,
            command.channel_id,
            command.guild_id,
            &command.user,
            command.member.as_deref(),
        );
        let work = async {
            match invocation.text() {
                Some(text) => self.respond(ctx, &asked, text).await,
                None => Answer::private(format!("Scribe does not know /{}.", command.data.name)),
            }
        };
        answer(ctx, &asked, work).await;
    }

    /// The start form submitted: the same command, stored and answered as the slash command.
    async fn modal(&self, ctx: &Context, modal: &ModalInteraction) {
        let inputs: Vec<(String, String)> = modal
            .data
            .components
            .iter()
            .flat_map(|row| &row.components)
            .take(MAX_INPUTS)
            .filter_map(|component| match component {
                ActionRowComponent::InputText(input) => Some((
                    input.custom_id.clone(),
                    input.value.clone().unwrap_or_default(),
                )),
                _ => None,
            })
            .collect();
        let asked = Asked::new(
            modal.id,
            &modal.token,
            modal.channel_id,
            modal.guild_id,
            &modal.user,
            modal.member.as_ref(),
        );
        let work = async {
            match commands::modal_text(&modal.data.custom_id, &inputs) {
                Some(text) => self.respond(ctx, &asked, text).await,
                None => Answer::private(reply::UNKNOWN_CONTROL.to_string()),
            }
        };
        answer(ctx, &asked, work).await;
    }

    /// A click on the controls under a start's answer: the command it stands for, stored and
    /// answered as if typed.
    async fn component(&self, ctx: &Context, component: &ComponentInteraction) {
        let values: &[String] = match &component.data.kind {
            ComponentInteractionDataKind::StringSelect { values } => values,
            _ => &[],
        };
        let asked = Asked::new(
            component.id,
            &component.token,
            component.channel_id,
            component.guild_id,
            &component.user,
            component.member.as_ref(),
        );
        let under = component
            .message
            .interaction_metadata
            .as_deref()
            .and_then(|started| match started {
                MessageInteractionMetadata::Command(command) => Some(command.id),
                MessageInteractionMetadata::ModalSubmit(form) => Some(form.id),
                _ => None,
            });
        let work = async {
            let Some(text) =
                commands::component_text(&component.data.custom_id, values, &asked.name)
            else {
                return Answer::private(reply::UNKNOWN_CONTROL.to_string());
            };
            match self.of_open_incident(ctx, &asked, under).await {
                Ok(true) => {
                    let answer = self.respond(ctx, &asked, text).await;
                    self.in_place(ctx, &asked, answer).await
                }
                Ok(false) => Answer::private(reply::HEADLINE_STALE.to_string()),
                Err(error) => {
                    tracing::error!(%error, "cannot read the channel's incident; asking again");
                    Answer::private(reply::NOT_RECORDED.to_string())
                }
            }
        };
        answer(ctx, &asked, work).await;
    }

    /// A click's answer, when it changed the incident (a public answer), as the start's
    /// answer it sits under, redone: the incident as it now is, the change and who made it,
    /// the controls kept. Anything else is answered as it was.
    async fn in_place(&self, ctx: &Context, asked: &Asked, answer: Answer) -> Answer {
        if !answer.public {
            return answer;
        }
        let place = self.intake.command_place(ctx, asked.channel).await;
        let history = match self.intake.app().history(&place.channel).await {
            Ok(history) => history,
            Err(error) => {
                tracing::warn!(%error, "cannot read the incident to redo its start's answer");
                return answer;
            }
        };
        let Some(incident) = history.open_incident() else {
            return answer;
        };
        let resolved = incident
            .resolved_at
            .map(|at| format!(" · Resolved at {}", at.format("%H:%M UTC")))
            .unwrap_or_default();
        let text = format!(
            "{}\nLead: {}{resolved}\nLast change: {} ({})",
            reply::text(&Outcome::Opened, Some(incident)),
            incident.author(),
            answer.text,
            asked.name,
        );
        Answer {
            text,
            controls: true,
            update: true,
            ..answer
        }
    }

    /// Whether controls under the answer to the start `started` (the interaction that opened
    /// an incident, when the message says) may change the channel's open incident: only when
    /// that start opened it, so an earlier incident's controls never change a newer one. With
    /// no open incident the command itself answers why nothing changed.
    async fn of_open_incident(
        &self,
        ctx: &Context,
        asked: &Asked,
        started: Option<InteractionId>,
    ) -> Result<bool, crate::storage::StoreError> {
        let Some(started) = started else {
            return Ok(true);
        };
        let place = self.intake.command_place(ctx, asked.channel).await;
        let history = self.intake.app().history(&place.channel).await?;
        Ok(history.open_incident().is_none_or(|incident| {
            incident.id().opened_by == MessageId::new(format!("cmd:{started}"))
        }))
    }

    /// "Add to timeline" on a message: its post and the person's mark stored (or nothing, for
    /// a message outside every incident), then the person told, and only them.
    async fn add_to_timeline(&self, ctx: &Context, command: &CommandInteraction) {
        let asked = Asked::new(
            command.id,
            &command.token,
            command.channel_id,
            command.guild_id,
            &command.user,
            command.member.as_deref(),
        );
        let work = async {
            let Some(ResolvedTarget::Message(message)) = command.data.target() else {
                tracing::warn!("\"Add to timeline\" without its message");
                return Answer::private(reply::UNKNOWN_CONTROL.to_string());
            };
            let stored = self
                .intake
                .add_to_timeline(
                    ctx,
                    message,
                    command.channel_id,
                    command.user.id,
                    *command.id.created_at(),
                )
                .await;
            let text = match stored {
                Ok(marked) => marked.text(),
                Err(error) => {
                    tracing::error!(%error, "cannot store \"Add to timeline\"; asking for it again");
                    reply::SHORTCUT_NOT_RECORDED
                }
            };
            Answer::private(text.to_string())
        };
        answer(ctx, &asked, work).await;
    }

    /// Stores the command `text`, said as `asked`, and says what it did.
    async fn respond(&self, ctx: &Context, asked: &Asked, text: String) -> Answer {
        let place = self.intake.command_place(ctx, asked.channel).await;
        let event = ChatEvent {
            channel: place.channel.clone(),
            message: MessageId::new(format!("cmd:{}", asked.id)),
            at: *asked.id.created_at(),
            kind: EventKind::Posted {
                author: Author::human(asked.user.to_string(), asked.name.clone()),
                text: text.clone(),
                thread: None,
            },
        };
        let guild = asked.guild.map(|g| g.to_string()).unwrap_or_default();
        let who = WebIdentity {
            platform: Platform::Discord,
            workspace: guild.clone(),
            person_id: asked.user.to_string(),
            person_name: asked.name.clone(),
        };
        let app = self.intake.app();
        if let Err(error) = app.remember_workspace(&place.channel, &guild).await {
            tracing::error!(%error, "cannot store a Discord command; asking for it again");
            return Answer::private(reply::NOT_RECORDED.to_string());
        }
        let recorded = match self.intake.record(event).await {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::error!(%error, "cannot store a Discord command; asking for it again");
                return Answer::private(reply::NOT_RECORDED.to_string());
            }
        };
        let Some(answer) = recorded.effect else {
            return Answer::private("That is no command Scribe knows.".to_string());
        };
        let incident = recorded.incident.as_ref();
        let said = || {
            let said: String = text.chars().take(300).collect();
            said
        };
        match (&answer.outcome, incident) {
            (Outcome::WebLink, _) => Answer::private(app.web_link_answer(&who).await),
            (Outcome::Opened, Some(incident)) => {
                let mut text = headline(incident);
                if let Some(similar) = app.similar_on_start(incident).await {
                    text = format!("{text}\n{similar}");
                }
                Answer {
                    controls: true,
                    ..Answer::public(text)
                }
            }
            (Outcome::Search(words), _) => {
                Answer::private(app.search_answer(&place.channel, words).await)
            }
            (Outcome::Similar, Some(incident)) => Answer::private(
                app.similar_answer(incident)
                    .await
                    .unwrap_or_else(|| reply::NO_SIMILAR.to_string()),
            ),
            (Outcome::ShowDraft, Some(incident)) => {
                match app.render_draft(incident, &format!("<#{}>", asked.channel)) {
                    Ok(draft) => Answer {
                        file: Some((
                            format!("postmortem-{}", slug::file_name(incident)),
                            draft.into_bytes(),
                        )),
                        ..Answer::private("The postmortem draft as it stands:".to_string())
                    },
                    Err(error) => {
                        tracing::error!(%error, "cannot render the postmortem draft");
                        Answer::private(reply::no_draft())
                    }
                }
            }
            (Outcome::ShowStatus(_), Some(incident)) => {
                let mut text = reply::text(&answer.outcome, Some(incident));
                let prefix = crate::jobs::job_prefix(&incident.id());
                if let Ok(jobs) = app.store().jobs(&prefix).await
                    && let Some(line) = crate::jobs::describe(&jobs)
                {
                    text = format!("{text}\n{line}");
                }
                Answer::private(text)
            }
            (
                Outcome::Recorded {
                    before_start: false,
                    ..
                }
                | Outcome::SeveritySet(_)
                | Outcome::LeadSet(_)
                | Outcome::Resolved,
                _,
            ) => Answer::public(format!(
                "{} ({})",
                reply::text(&answer.outcome, incident),
                said()
            )),
            (Outcome::Closed, _) => Answer::public(reply::text(&answer.outcome, incident)),
            (outcome, incident) => Answer::private(reply::text(outcome, incident)),
        }
    }
}

/// The most text inputs read from a submitted form (Discord's forms hold five).
const MAX_INPUTS: usize = 5;

/// Who asked what, where, whatever kind of interaction asked it (slash command, message
/// command, form, button, select): what the answer and the stored command need.
struct Asked {
    id: InteractionId,
    token: String,
    channel: ChannelId,
    guild: Option<GuildId>,
    user: UserId,
    /// The display name: server nickname, global name or username.
    name: String,
}

impl Asked {
    fn new(
        id: InteractionId,
        token: &str,
        channel: ChannelId,
        guild: Option<GuildId>,
        user: &User,
        member: Option<&Member>,
    ) -> Self {
        let nick = member.and_then(|m| m.nick.as_deref());
        Asked {
            id,
            token: token.to_string(),
            channel,
            guild,
            user: user.id,
            name: display_name(nick, user),
        }
    }
}

/// Answers an interaction: at once when `work` is quick, else deferred (Discord shows
/// "thinking…", for the asker only) and then edited, within Discord's three seconds. Discord
/// fixes a deferred answer's privacy at the deferral, so an answer meant for the channel (a
/// start, with its controls) follows as a message of its own once the asker's "thinking…" has
/// been told so; the first follow-up would otherwise take the deferral's place, private.
async fn answer(ctx: &Context, asked: &Asked, work: impl Future<Output = Answer>) {
    tokio::pin!(work);
    let sent = match tokio::time::timeout(DEFER_AFTER, &mut work).await {
        Ok(answer) if answer.update => {
            CreateInteractionResponse::UpdateMessage(answer.message())
                .execute(&ctx.http, (asked.id, &asked.token))
                .await
        }
        Ok(answer) => {
            CreateInteractionResponse::Message(answer.message())
                .execute(&ctx.http, (asked.id, &asked.token))
                .await
        }
        Err(_) => {
            let defer = CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new().ephemeral(true),
            );
            if let Err(error) = defer.execute(&ctx.http, (asked.id, &asked.token)).await {
                tracing::warn!(%error, "cannot defer the answer");
            }
            let answer = work.await;
            if answer.public {
                let told = EditInteractionResponse::new()
                    .content(reply::ANSWERED_IN_CHANNEL)
                    .execute(&ctx.http, &asked.token)
                    .await;
                if let Err(error) = told {
                    tracing::warn!(%error, "cannot replace the deferred answer");
                }
                answer
                    .followup()
                    .execute(&ctx.http, (None, &asked.token))
                    .await
                    .map(drop)
            } else {
                answer
                    .edit()
                    .execute(&ctx.http, &asked.token)
                    .await
                    .map(drop)
            }
        }
    };
    if let Err(error) = sent {
        tracing::warn!(%error, "cannot answer an interaction");
    }
}

/// What a command is answered with.
struct Answer {
    text: String,
    /// Everyone in the channel sees it; else only whoever typed the command.
    public: bool,
    file: Option<(String, Vec<u8>)>,
    /// The severity select and the buttons under a start's answer.
    controls: bool,
    /// It replaces the message a click came from (past the deferral point, it is posted
    /// instead).
    update: bool,
}

impl Answer {
    fn public(text: String) -> Self {
        Answer {
            text,
            public: true,
            file: None,
            controls: false,
            update: false,
        }
    }

    fn private(text: String) -> Self {
        Answer {
            text,
            public: false,
            file: None,
            controls: false,
            update: false,
        }
    }

    fn message(self) -> CreateInteractionResponseMessage {
        let mut message = CreateInteractionResponseMessage::new()
            .content(clip(&self.text))
            .ephemeral(!self.public)
            .allowed_mentions(CreateAllowedMentions::new());
        if let Some((name, bytes)) = self.file {
            message = message.add_file(CreateAttachment::bytes(bytes, name));
        }
        if self.controls {
            message = message.components(commands::start_controls());
        }
        message
    }

    /// The answer as a follow-up message, for the channel.
    fn followup(self) -> CreateInteractionResponseFollowup {
        let mut followup = CreateInteractionResponseFollowup::new()
            .content(clip(&self.text))
            .allowed_mentions(CreateAllowedMentions::new());
        if let Some((name, bytes)) = self.file {
            followup = followup.add_file(CreateAttachment::bytes(bytes, name));
        }
        if self.controls {
            followup = followup.components(commands::start_controls());
        }
        followup
    }

    fn edit(self) -> EditInteractionResponse {
        let mut edit = EditInteractionResponse::new()
            .content(clip(&self.text))
            .allowed_mentions(CreateAllowedMentions::new());
        if let Some((name, bytes)) = self.file {
            edit = edit.new_attachment(CreateAttachment::bytes(bytes, name));
        }
        if self.controls {
            edit = edit.components(commands::start_controls());
        }
        edit
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to Discord");
        self.register(&ctx).await;
        self.enqueue(ctx, GatewayEvent::Connected);
    }

    async fn resume(&self, ctx: Context, _: ResumedEvent) {
        tracing::info!("Discord session resumed");
        self.enqueue(ctx, GatewayEvent::Connected);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        use tracing::Instrument;
        match interaction {
            Interaction::Command(command) if command.data.kind == CommandType::Message => {
                let span = tracing::info_span!("discord_add_to_timeline", channel = %command.channel_id, interaction = %command.id);
                self.add_to_timeline(&ctx, &command).instrument(span).await;
            }
            Interaction::Command(command) => {
                let span = tracing::info_span!("discord_command", channel = %command.channel_id, command = %command.data.name);
                self.command(&ctx, &command).instrument(span).await;
            }
            Interaction::Modal(modal) => {
                let span = tracing::info_span!("discord_form", channel = %modal.channel_id, form = %modal.data.custom_id);
                self.modal(&ctx, &modal).instrument(span).await;
            }
            Interaction::Component(component) => {
                let span = tracing::info_span!("discord_control", channel = %component.channel_id, control = %component.data.custom_id);
                self.component(&ctx, &component).instrument(span).await;
            }
            _ => {}
        }
    }

    async fn message(&self, ctx: Context, message: Message) {
        if message.guild_id.is_some() {
            self.enqueue(ctx, GatewayEvent::Message(Box::new(message)));
        }
    }

    async fn message_update(
        &self,
        ctx: Context,
        _: Option<Message>,
        _: Option<Message>,
        update: MessageUpdateEvent,
    ) {
        self.enqueue(ctx, GatewayEvent::Update(Box::new(update)));
    }

    async fn message_delete(
        &self,
        ctx: Context,
        channel: ChannelId,
        message: serenity::all::MessageId,
        _: Option<GuildId>,
    ) {
        self.enqueue(ctx, GatewayEvent::Delete { channel, message });
    }

    async fn reaction_add(&self, ctx: Context, reaction: Reaction) {
        self.enqueue(ctx, reaction_event(reaction, true));
    }

    async fn reaction_remove(&self, ctx: Context, reaction: Reaction) {
        self.enqueue(ctx, reaction_event(reaction, false));
    }

    async fn channel_pins_update(&self, ctx: Context, pins: ChannelPinsUpdateEvent) {
        self.enqueue(ctx, GatewayEvent::Pins(pins.channel_id));
    }
}

fn reaction_event(reaction: Reaction, added: bool) -> GatewayEvent {
    GatewayEvent::Reaction {
        channel: reaction.channel_id,
        message: reaction.message_id,
        user: reaction.user_id,
        emoji: reaction.emoji,
        added,
    }
}
