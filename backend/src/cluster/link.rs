//! One registered socket's subscription to its device's subject.

use super::Cluster;
use super::wire::{self, ToDevice};
use crate::gateway::Taken;
use bytes::Bytes;
use futures_util::StreamExt;
use parley_protocol::DeviceId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a registration waits for NATS to route its device's subject to
/// it; past that it goes on (NATS is away: the re-read after it comes back
/// covers what was missed).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Listening on a device's subject while its socket lives; dropping it
/// unsubscribes.
#[derive(Debug)]
pub struct Link {
    task: JoinHandle<()>,
    cluster: Arc<Cluster>,
    device: DeviceId,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
        self.cluster.device_down(self.device);
    }
}

impl Link {
    /// Subscribes, then publishes `Took` and waits for its own copy: from
    /// then on NATS routes the subject here, so a row committed elsewhere
    /// after the socket's drain read the queue is announced to it.
    pub(super) async fn open(
        cluster: Arc<Cluster>,
        client: &async_nats::Client,
        device: DeviceId,
        serial: u64,
        nonce: u64,
    ) -> Option<Self> {
        let subject = wire::device(device);
        let subscriber =
            match tokio::time::timeout(PROBE_TIMEOUT, client.subscribe(subject.clone())).await {
                Ok(Ok(subscriber)) => subscriber,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "device subject not subscribed");
                    return None;
                }
                Err(_) => {
                    tracing::warn!("device subject not subscribed in time");
                    return None;
                }
            };
        let (probed, routed) = oneshot::channel();
        let node = cluster.node;
        let task = tokio::spawn(listen(
            cluster.clone(),
            subscriber,
            device,
            serial,
            nonce,
            probed,
        ));
        let link = Self {
            task,
            cluster: cluster.clone(),
            device,
        };
        let took = wire::encode(&ToDevice::Took { node, nonce })?;
        if client.publish(subject, took).await.is_ok()
            && tokio::time::timeout(PROBE_TIMEOUT, routed).await.is_err()
        {
            tracing::warn!(%device, "device subject not confirmed in time");
        }
        cluster.device_up(device);
        Some(link)
    }
}

async fn listen(
    cluster: Arc<Cluster>,
    mut subscriber: async_nats::Subscriber,
    device: DeviceId,
    serial: u64,
    nonce: u64,
    probed: oneshot::Sender<()>,
) {
    let Some(joined) = cluster.joined() else {
        return;
    };
    let gateway = &joined.gateway;
    let mut probed = Some(probed);
    while let Some(message) = subscriber.next().await {
        match wire::decode(&message.payload) {
            Some(ToDevice::Rows(rows)) => gateway.to_inbox(device, serial, Some(rows)),
            Some(ToDevice::Reread) => gateway.to_inbox(device, serial, None),
            Some(ToDevice::Live { origin, mark, row }) => {
                let id = row.row_id;
                if gateway.to_inbox_live(device, serial, origin, mark, row) == Taken::Held {
                    cluster.held(origin, device, id);
                }
            }
            Some(ToDevice::Frame(frame)) => {
                gateway.push_ephemeral(device, Bytes::from(frame));
            }
            Some(ToDevice::Took {
                node,
                nonce: theirs,
            }) => {
                if node == cluster.node {
                    // Our own registration's (a later one here replaces
                    // this socket through the gateway itself).
                    if theirs == nonce
                        && let Some(probed) = probed.take()
                    {
                        let _ = probed.send(());
                    }
                    continue;
                }
                // The device registered on another node: this socket is the
                // older one. What it had in flight goes to the queue (and
                // is announced to the new one), then the new one re-reads
                // for rows committed here while both were linked.
                if gateway.replaced_elsewhere(device, serial, || {
                    joined.delivery.requeue_in_flight(device);
                }) {
                    cluster.reread(device);
                }
                return;
            }
            None => {}
        }
    }
}
