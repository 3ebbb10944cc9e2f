//! Live pages: a server-sent event each time one of the incident's channel's events is stored
//! here (from chat, another browser, the console), so an open page fetches itself again.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::{WebError, signed, visible};
use crate::app::App;

/// A stream ends after this long and the browser opens a new one, so that a stopping server
/// is never held up by open pages for long.
const STREAM_LIFE: Duration = Duration::from_secs(300);

pub async fn stream(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    let signed = signed(&app, &headers).await?;
    let incident = visible(&app, &signed.who, &id).await?;
    let mut changes = app.changes.subscribe();
    let channel = incident.channel;
    let deadline = tokio::time::Instant::now() + STREAM_LIFE;
    let events = async_stream(move |send| async move {
        loop {
            let change = tokio::select! {
                change = changes.recv() => change,
                () = tokio::time::sleep_until(deadline) => return,
            };
            let changed = match change {
                Ok(changed) => changed == channel,
                // Too many changes to follow one by one: the page reloads all anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if changed
                && send
                    .send(Event::default().event("change").data("1"))
                    .await
                    .is_err()
            {
                return;
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by `produce` through a small channel.
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (send, receive) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(send));
    futures_util::stream::unfold(receive, |mut receive| async move {
        receive.recv().await.map(|event| (Ok(event), receive))
    })
}
