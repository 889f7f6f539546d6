//! Engine events → MCP progress notifications, for the call that asked for them.

use std::sync::Arc;

use pgkeel_engine::{Event, Events};
use rmcp::model::ProgressNotificationParam;
use rmcp::service::RequestContext;
use rmcp::RoleServer;
use tokio::sync::mpsc;

/// Forwards engine events of one tool call as progress notifications. Sending happens on a
/// task of its own, so the engine never waits on the client.
pub struct ProgressSink {
    tx: mpsc::UnboundedSender<Event>,
}

impl Events for ProgressSink {
    fn event(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}

/// An event sink for the call in `ctx`: progress notifications when the client sent a progress
/// token, nothing otherwise.
pub fn for_call(ctx: &RequestContext<RoleServer>) -> Arc<dyn Events> {
    let Some(token) = ctx.meta.get_progress_token() else {
        return Arc::new(pgkeel_engine::NoEvents);
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let peer = ctx.peer.clone();
    tokio::spawn(async move {
        let mut done = 0u32;
        while let Some(event) = rx.recv().await {
            if let Some((progress, total, message)) = describe(&event, &mut done) {
                let mut p =
                    ProgressNotificationParam::new(token.clone(), progress).with_message(message);
                if let Some(t) = total {
                    p = p.with_total(t);
                }
                if peer.notify_progress(p).await.is_err() {
                    break;
                }
            }
        }
    });
    Arc::new(ProgressSink { tx })
}

fn describe(event: &Event, done: &mut u32) -> Option<(f64, Option<f64>, String)> {
    match event {
        Event::LockWaiting { holder } => Some((
            f64::from(*done),
            None,
            format!(
                "waiting for the migration lock{}",
                holder
                    .as_ref()
                    .map(|h| format!(" held by {h}"))
                    .unwrap_or_default()
            ),
        )),
        Event::LockRetry { .. } => {
            pgkeel_engine::events::lock_retry_line(event).map(|t| (f64::from(*done), None, t))
        }
        Event::MigrationStarted {
            index,
            total,
            version,
            name,
            ..
        } => Some((
            *index as f64,
            Some(*total as f64),
            format!("applying {version} {name}"),
        )),
        Event::MigrationApplied {
            index,
            total,
            version,
            duration_ms,
        } => {
            *done = (*index + 1) as u32;
            Some((
                (*index + 1) as f64,
                Some(*total as f64),
                format!("applied {version} in {duration_ms} ms"),
            ))
        }
        _ => None,
    }
}
