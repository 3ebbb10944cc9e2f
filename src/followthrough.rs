//! What happens after a command's answer that is about people, not posts: reminders, posted in
//! the incident's channel when their time comes (see `domain::reminders` for when and why).

use crate::app::App;
use crate::domain::reminders::Fire;
use crate::jobs::{JobError, read_reminder_job, reminder_job};
use crate::storage::Job;

/// Runs a reminder job: posts it if its reason still holds, queues the next one of a
/// repeating reminder, or the same one later (quiet hours, a newer timeline entry). The post
/// is keyed by the reminder, so a job run twice (a crash before it was marked done) posts once.
pub async fn remind(app: &App, job: &Job) -> Result<(), JobError> {
    let (id, due) = read_reminder_job(job)?;
    let Some(incident) = app.incident(&id).await? else {
        tracing::warn!(incident = %id, "a reminder for an incident no longer in the log");
        return Ok(());
    };
    let span = tracing::info_span!("remind", incident = %id, channel = %id.channel, reminder = due.reminder.as_str());
    let _entered = span.enter();
    match app.rules.fire(&incident, &due, app.clock.now()) {
        Fire::Post { text, next } => {
            app.report(&id, &format!("remind.{}", due.key()), &text)
                .await;
            if let Some(next) = next {
                app.enqueue(&[reminder_job(&id, &next)]).await?;
            }
        }
        Fire::Later(later) => app.enqueue(&[reminder_job(&id, &later)]).await?,
        Fire::Drop => tracing::debug!("the reminder's reason is gone"),
    }
    Ok(())
}
