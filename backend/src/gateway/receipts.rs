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

/// Ids in one `Receipts` frame: 8,192 of 17 bytes each stays well under
/// the 256 KiB frame limit.
pub const IDS_PER_FRAME: usize = 8_192;

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

    /// Everything waiting, in frames of at most [`IDS_PER_FRAME`] ids (a
    /// bigger batch is split).
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
        let mut ids = 0;
        for batch in pieces {
            match frames.last_mut() {
                Some(frame) if ids + batch.ids.len() <= IDS_PER_FRAME => {
                    ids += batch.ids.len();
                    frame.push(batch);
                }
                _ => {
                    ids = batch.ids.len();
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
    use parley_protocol::frame::ReceiptKind;
    use parley_protocol::{MessageId, UserId};

    fn batch(ids: usize) -> ReceiptBatch {
        ReceiptBatch {
            kind: ReceiptKind::Delivered,
            by: UserId::new_v7(),
            ids: (0..ids).map(|_| MessageId::new_v7()).collect(),
            at: 1,
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
        for frame in &frames {
            assert!(frame.iter().map(|b| b.ids.len()).sum::<usize>() <= IDS_PER_FRAME);
        }
        assert!(receipts.take().is_empty());
        assert!(receipts.add(batch(1), nudge).is_ok());
        assert_eq!(nudges.get(), 2, "nudged again once taken");
    }

    #[test]
    fn bounded_and_a_failed_nudge_gives_the_receipt_back() {
        let receipts = ReceiptBox::default();
        assert!(receipts.add(batch(MAX_WAITING_IDS), || true).is_ok());
        let refused = receipts.add(batch(1), || panic!("nudged already"));
        assert_eq!(refused.map_err(|b| b.ids.len()), Err(1));
        assert_eq!(receipts.take().len(), 8);
        let refused = receipts.add(batch(3), || false);
        assert_eq!(refused.map_err(|b| b.ids.len()), Err(3));
        assert!(
            receipts.take().is_empty(),
            "nothing waits for a nudge that failed"
        );
        assert!(receipts.add(batch(1), || true).is_ok());
    }
}
