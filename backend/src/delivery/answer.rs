//! How a send is answered: refused at once, or accepted once durable.

use crate::auth::Caller;
use crate::gateway::{self, Command};
use crate::state::AppState;
use parley_protocol::frame::ServerFrame;
use parley_protocol::{ErrorCode, MessageId, Millis};

/// A refusal of message `id`.
pub fn rejected(id: MessageId, code: ErrorCode, message: &str) -> ServerFrame {
    ServerFrame::Rejected {
        id,
        code,
        message: message.to_owned(),
    }
}

/// Answers the sender once every target holds message `id` (or one failed).
pub fn answer_when_durable(
    state: &AppState,
    caller: Caller,
    id: MessageId,
    at: Millis,
    durable: impl Future<Output = bool> + 'static,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let gateway = state.gateway.clone();
    actix_web::rt::spawn(async move {
        // Held until answered: bounds this socket's sends in flight.
        let _permit = permit;
        let answer = if durable.await {
            ServerFrame::Accepted { id, at }
        } else {
            // Nothing was promised: the client keeps it in its outbox and retries.
            rejected(id, ErrorCode::Internal, "not stored, retry")
        };
        if let Some(answer) = gateway::encode(&answer) {
            gateway.push(caller.device_id, Command::Frame(answer));
        }
    });
}
