//! Receipts waiting for a socket, sent together.
//!
//! A message to a group of a thousand is acked by a thousand devices within
//! a few milliseconds, and each ack is a receipt for the sender. One frame
//! each in the socket's bounded outbox would fill it and close the sender's
//! socket as too slow, and cost its client a thousand inputs. They wait
//! here instead, under a bound of their own, and the socket task sends what
//! has gathered as one `Receipts` frame (or a few, to stay under the frame
//! limit) when it gets to the one nudge in its outbox.

use parley_protocol::frame::ReceiptBatch;
use std::sync::Mutex;

/// Message ids that may wait for one socket; past this a receipt goes to
/// the device's queue instead, as it does when the socket is gone.
pub const MAX_WAITING_IDS: usize = 65_536;

/// Ids in one receipt of a `Receipts` frame (a bigger one is split).
pub const IDS_PER_FRAME: usize = 8_192;

/// Encoded bytes one `Receipts` frame may hold, well under the 256 KiB
/// frame limit: a receipt costs at most [`receipt_bytes`].
const FRAME_BUDGET: usize = 192 * 1024;

/// An upper bound of a receipt's encoded size: kind, reader, a length,
/// 17 bytes per id (a UUID with its length) and the time, as varints.
fn receipt_bytes(ids: usize) -> usize {
    1 + 17 + 5 + 17 * ids + 10
}

/// A socket's waiting receipts.
#[derive(Debug, Default)]
pub struct ReceiptBox(Mutex<Waiting>);

#[derive(Debug, Default)]
struct Waiting {
    batches: Vec<ReceiptBatch>,
    ids: usize,
    /// A nudge is in the outbox: the socket task will take what is here.
    nudged: bool,
}

impl ReceiptBox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a receipt, and calls `nudge` (which queues the nudge in the
    /// socket's outbox) when none is on its way. The receipt is given back
    /// when too much waits already or the nudge could not be queued: the
    /// caller queues it in the database instead.
    pub fn add(
        &self,
        batch: ReceiptBatch,
        nudge: impl FnOnce() -> bool,
    ) -> Result<(), ReceiptBatch> {
        let mut waiting = self.lock();
        if waiting.ids + batch.ids.len() > MAX_WAITING_IDS {
            return Err(batch);
        }
        // Under the lock: a receipt added meanwhile cannot count on a
        // nudge that failed.
        if !waiting.nudged {
            if !nudge() {
                return Err(batch);
            }
            waiting.nudged = true;
        }
        waiting.ids += batch.ids.len();
        waiting.batches.push(batch);
        Ok(())
    }

    /// Everything waiting, in frames under the frame limit (a receipt of
    /// more than [`IDS_PER_FRAME`] ids is split).
    pub fn take(&self) -> Vec<Vec<ReceiptBatch>> {
        let batches = {
            let mut waiting = self.lock();
            waiting.nudged = false;
            waiting.ids = 0;
            std::mem::take(&mut waiting.batches)
        };
        let pieces = batches.into_iter().flat_map(|b| {
            let (kind, by, at) = (b.kind, b.by, b.at);
            b.ids
                .chunks(IDS_PER_FRAME)
                .map(|ids| ReceiptBatch {
                    kind,
                    by,
                    ids: ids.to_vec(),
                    at,
                })
                .collect::<Vec<_>>()
        });
        let mut frames: Vec<Vec<ReceiptBatch>> = Vec::new();
        let mut bytes = 0;
        for batch in pieces {
            let cost = receipt_bytes(batch.ids.len());
            match frames.last_mut() {
                Some(frame) if bytes + cost <= FRAME_BUDGET => {
                    bytes += cost;
                    frame.push(batch);
                }
                _ => {
                    bytes = cost;
                    frames.push(vec![batch]);
                }
            }
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::frame::{ReceiptKind, ServerFrame};
    use parley_protocol::{MessageId, UserId};

    fn batch(ids: usize) -> ReceiptBatch {
        ReceiptBatch {
            kind: ReceiptKind::Delivered,
            by: UserId::new_v7(),
            ids: (0..ids).map(|_| MessageId::new_v7()).collect(),
            at: 1_765_000_000_000,
        }
    }

    #[test]
    fn one_nudge_until_taken_then_frames_under_the_limit() {
        let receipts = ReceiptBox::default();
        let nudges = std::cell::Cell::new(0);
        let nudge = || {
            nudges.set(nudges.get() + 1);
            true
        };
        assert!(receipts.add(batch(1), nudge).is_ok());
        for _ in 0..2_000 {
            assert!(receipts.add(batch(5), nudge).is_ok());
        }
        assert_eq!(nudges.get(), 1);
        let frames = receipts.take();
        assert_eq!(frames.iter().map(Vec::len).sum::<usize>(), 2_001);
        assert!(frames.len() >= 2, "10,001 ids do not fit one frame");
        for frame in frames {
            assert_fits(frame);
        }
        assert!(receipts.take().is_empty());
        assert!(receipts.add(batch(1), nudge).is_ok());
        assert_eq!(nudges.get(), 2, "nudged again once taken");
    }

    fn assert_fits(frame: Vec<ReceiptBatch>) {
        let bytes = ServerFrame::Receipts(frame).encode().unwrap();
        assert!(ServerFrame::decode(&bytes).is_ok(), "{} bytes", bytes.len());
    }

    #[test]
    fn many_small_receipts_still_fit_their_frames() {
        // A thousand members acking one message each, many times over:
        // the per-receipt overhead counts, not only the ids.
        let receipts = ReceiptBox::default();
        while receipts.add(batch(1), || true).is_ok() {}
        let frames = receipts.take();
        assert!(frames.len() > 1);
        for frame in frames {
            assert_fits(frame);
        }
        let receipts = ReceiptBox::default();
        assert!(receipts.add(batch(MAX_WAITING_IDS), || true).is_ok());
        for frame in receipts.take() {
            assert_fits(frame);
        }
    }

    #[test]
    fn bounded_and_a_failed_nudge_gives_the_receipt_back() {
        let receipts = ReceiptBox::default();
        assert!(receipts.add(batch(MAX_WAITING_IDS), || true).is_ok());
        let refused = receipts.add(batch(1), || panic!("nudged already"));
        assert_eq!(refused.map_err(|b| b.ids.len()), Err(1));
        assert!(receipts.take().len() >= 8);
        let refused = receipts.add(batch(3), || false);
        assert_eq!(refused.map_err(|b| b.ids.len()), Err(3));
        assert!(
            receipts.take().is_empty(),
            "nothing waits for a nudge that failed"
        );
        assert!(receipts.add(batch(1), || true).is_ok());
    }
}
