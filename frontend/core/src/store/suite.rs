//! The behaviour every [`Store`] must have, as one suite: run natively on
//! [`super::memory::MemoryStore`] and in Chromium on IndexedDB.
//!
//! Each case gets a fresh, empty store and returns what went wrong; the
//! suite never panics, so the browser can report every failure at once.

use super::{CryptoChanges, Store, StoreError};
use crate::call::{CallLog, Outcome};
use crate::message::{Body, Message, Quote, Reaction, Revision, Status};
use parley_protocol::{ConversationId, DeviceId, GroupId, MessageId, Millis, UserId};
use std::collections::HashSet;

/// A case's name and what went wrong, if anything.
pub type Outcomes = Vec<(&'static str, Result<(), String>)>;

type CaseResult = Result<(), String>;

fn check(ok: bool, what: impl FnOnce() -> String) -> CaseResult {
    if ok { Ok(()) } else { Err(what()) }
}

fn fail(err: StoreError) -> String {
    err.to_string()
}

/// A message of `chat` at `at`.
fn msg(chat: ConversationId, at: Millis, outgoing: bool) -> Message {
    Message {
        id: MessageId::new_v7(),
        chat,
        outgoing,
        from_device: DeviceId::new_v7(),
        composed_at: at,
        server_at: None,
        status: if outgoing {
            Status::Pending
        } else {
            Status::Sent
        },
        seen: outgoing,
        failed: false,
        body: Body::Text(format!("at {at}")),
        ..Message::blank()
    }
}

fn direct() -> ConversationId {
    ConversationId::Direct(UserId::new_v7())
}

fn ids(msgs: &[Message]) -> Vec<MessageId> {
    msgs.iter().map(|m| m.id).collect()
}

/// Runs every case, each on a store from `fresh`, handed to `dispose`
/// afterwards (to close and delete it).
pub async fn run<S: Store>(
    mut fresh: impl AsyncFnMut() -> Result<S, StoreError>,
    mut dispose: impl AsyncFnMut(S),
) -> Outcomes {
    let mut outcomes: Outcomes = Vec::new();
    macro_rules! case {
        ($name:literal, $f:ident) => {
            let result = match fresh().await {
                Ok(store) => {
                    let result = $f(&store).await;
                    dispose(store).await;
                    result
                }
                Err(err) => Err(format!("could not open a store: {err}")),
            };
            outcomes.push(($name, result));
        };
    }
    case!("new ids are stored once", stores_new_ids_once);
    case!("every body round-trips", bodies_round_trip);
    case!("the outbox keeps composition order", outbox_order);
    case!("updates write and return only changes", updates);
    case!("pages run in display order", paging);
    case!("summaries count unread and mentions per chat", summaries);
    case!("marking seen sends receipts for messages only", mark_seen);
    case!("removed messages are gone, outbox too", removal);
    case!(
        "clearing a chat removes what was written until then",
        clearing
    );
    case!("meta values round-trip", meta);
    case!("encryption state saves per device", crypto);
    outcomes
}

async fn stores_new_ids_once<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let a = msg(chat, 1, false);
    let b = msg(chat, 2, false);
    let added = store
        .add_new(vec![a.clone(), b.clone(), a.clone()])
        .await
        .map_err(fail)?;
    check(ids(&added) == [a.id, b.id], || {
        format!("a batch with a duplicate added {} messages", added.len())
    })?;
    let mut changed = a.clone();
    changed.body = Body::Text("rewritten".into());
    let again = store.add_new(vec![changed]).await.map_err(fail)?;
    check(again.is_empty(), || "a known id was stored again".into())?;
    let held = store.get(a.id).await.map_err(fail)?;
    check(held.as_ref() == Some(&a), || {
        format!("a redelivery changed the stored message: {held:?}")
    })?;
    let unknown = MessageId::new_v7();
    let known = store.known(&[a.id, unknown, b.id]).await.map_err(fail)?;
    check(known == HashSet::from([a.id, b.id]), || {
        format!("known() answered {known:?}")
    })?;
    check(store.get(unknown).await.map_err(fail)?.is_none(), || {
        "an unknown id was found".into()
    })
}

async fn bodies_round_trip<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let group = ConversationId::Group(GroupId::new_v7());
    let peer = match chat {
        ConversationId::Direct(peer) => peer,
        ConversationId::Group(_) => UserId::new_v7(),
    };
    let call = CallLog {
        call: MessageId::new_v7().into_uuid(),
        peer,
        outgoing: false,
        video: true,
        outcome: Outcome::Missed,
        started_at: 5,
        duration_ms: 0,
    };
    let mut msgs = Vec::new();
    for (i, body) in [
        Body::Text("héllo 👋 — שלום".into()),
        Body::Waiting,
        Body::SafetyChanged,
        Body::Call(call),
        Body::Deleted,
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = msg(chat, i as Millis, false);
        m.body = body;
        m.server_at = Some(77);
        m.failed = i == 0;
        msgs.push(m);
    }
    let mut in_group = msg(group, 9, true);
    in_group.status = Status::Read;
    msgs.push(in_group);
    let mut answered = msg(chat, 10, false);
    answered.reply = Some(Quote::new(msgs[0].id, peer, "héllo"));
    answered.forwarded = 3;
    answered.edits = vec![Revision {
        text: "first".into(),
        replaced_at: 11,
    }];
    answered.reactions = vec![Reaction {
        by: peer,
        emoji: "👍🏽".into(),
        at: 12,
    }];
    answered.starred = true;
    answered.delivered_at = Some(13);
    answered.read_at = Some(14);
    msgs.push(answered);
    store.add_new(msgs.clone()).await.map_err(fail)?;
    for m in &msgs {
        let back = store.get(m.id).await.map_err(fail)?;
        check(back.as_ref() == Some(m), || {
            format!("stored {m:?}, read back {back:?}")
        })?;
    }
    Ok(())
}

async fn outbox_order<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    // Composed within one millisecond, and out of clock order.
    let written: Vec<Message> = [5, 5, 3, 5, 4]
        .into_iter()
        .map(|at| msg(chat, at, true))
        .collect();
    for m in &written {
        store.compose(m).await.map_err(fail)?;
    }
    let outbox = store.outbox().await.map_err(fail)?;
    check(ids(&outbox) == ids(&written), || {
        "the outbox is not in composition order".into()
    })?;
    let changed = store
        .update(&[written[1].id], true, &|m| m.status = Status::Sent)
        .await
        .map_err(fail)?;
    check(changed.len() == 1, || {
        "the accepted message did not change".into()
    })?;
    let outbox = store.outbox().await.map_err(fail)?;
    let mut expected = ids(&written);
    expected.remove(1);
    check(ids(&outbox) == expected, || {
        "an accepted message stayed in the outbox".into()
    })?;
    let kept = store.get(written[1].id).await.map_err(fail)?;
    check(kept.is_some_and(|m| m.status == Status::Sent), || {
        "leaving the outbox lost the message".into()
    })
}

async fn updates<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let a = msg(chat, 1, true);
    let mut b = msg(chat, 2, true);
    b.status = Status::Read;
    store.compose(&a).await.map_err(fail)?;
    store.compose(&b).await.map_err(fail)?;
    let changed = store
        .update(&[MessageId::new_v7(), b.id, a.id], false, &|m| {
            m.status = m.status.advance(Status::Delivered);
        })
        .await
        .map_err(fail)?;
    check(ids(&changed) == [a.id], || {
        format!("expected only the changed message back, got {changed:?}")
    })?;
    check(changed[0].status == Status::Delivered, || {
        "returned the old state".into()
    })?;
    let outbox = store.outbox().await.map_err(fail)?;
    check(outbox.len() == 2, || {
        "an update without leave_outbox emptied the outbox".into()
    })
}

async fn paging<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let other = direct();
    let mut msgs: Vec<Message> = (0..10).map(|i| msg(chat, i / 2, i % 3 == 0)).collect();
    store.add_new(msgs.clone()).await.map_err(fail)?;
    store
        .add_new(vec![msg(other, 3, false), msg(other, 100, false)])
        .await
        .map_err(fail)?;
    msgs.sort_by_key(crate::window::order_key);
    let (newest, more) = store.older(chat, None, 4).await.map_err(fail)?;
    let expected: Vec<MessageId> = msgs.iter().rev().take(4).map(|m| m.id).collect();
    check(ids(&newest) == expected && more, || {
        "the newest page is wrong".into()
    })?;
    let (older, more) = store.older(chat, newest.last(), 100).await.map_err(fail)?;
    let expected: Vec<MessageId> = msgs.iter().rev().skip(4).map(|m| m.id).collect();
    check(ids(&older) == expected && !more, || {
        "paging back skipped or repeated messages".into()
    })?;
    let (newer, more) = store.newer(chat, &msgs[2], 3).await.map_err(fail)?;
    check(ids(&newer) == ids(&msgs[3..6]) && more, || {
        "the page after a message is wrong".into()
    })?;
    let (last, more) = store.newer(chat, &msgs[7], 3).await.map_err(fail)?;
    check(ids(&last) == ids(&msgs[8..]) && !more, || {
        "the last page is wrong".into()
    })
}

async fn summaries<S: Store>(store: &S) -> CaseResult {
    let (ann, bob) = (direct(), direct());
    let group = ConversationId::Group(GroupId::new_v7());
    let newest = msg(ann, 30, true);
    let named = |at| Message {
        mentions_me: true,
        ..msg(group, at, false)
    };
    store
        .add_new(vec![
            msg(ann, 10, false),
            newest.clone(),
            msg(ann, 20, false),
            msg(bob, 5, true),
            msg(group, 7, false),
            named(8),
            named(9),
        ])
        .await
        .map_err(fail)?;
    let rows = store.summaries().await.map_err(fail)?;
    check(rows.len() == 3, || {
        format!("{} rows for 3 chats", rows.len())
    })?;
    let row = |chat| rows.iter().find(|r| r.chat == chat);
    check(
        row(ann).is_some_and(|r| r.unread == 2 && r.last.as_ref() == Some(&newest)),
        || format!("ann's row is {:?}", row(ann)),
    )?;
    check(row(bob).is_some_and(|r| r.unread == 0), || {
        "own messages counted as unread".into()
    })?;
    check(
        row(group).is_some_and(|r| r.unread == 3 && r.mentions == 2),
        || format!("the group's row is {:?}", row(group)),
    )?;
    check(row(ann).is_some_and(|r| r.mentions == 0), || {
        "mentions where nobody was named".into()
    })?;
    // Read: no mention left either.
    store.mark_seen(group).await.map_err(fail)?;
    let rows = store.summaries().await.map_err(fail)?;
    check(
        rows.iter()
            .find(|r| r.chat == group)
            .is_some_and(|r| r.unread == 0 && r.mentions == 0),
        || "mentions still counted once read".into(),
    )
}

async fn mark_seen<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let ConversationId::Direct(peer) = chat else {
        return Err("not a direct chat".into());
    };
    let first = msg(chat, 10, false);
    let mut missed = msg(chat, 11, false);
    missed.body = Body::Call(CallLog {
        call: MessageId::new_v7().into_uuid(),
        peer,
        outgoing: false,
        video: false,
        outcome: Outcome::Missed,
        started_at: 11,
        duration_ms: 0,
    });
    let last = msg(chat, 12, false);
    let mine = msg(chat, 13, true);
    store
        .add_new(vec![last.clone(), first.clone(), missed.clone(), mine])
        .await
        .map_err(fail)?;
    let marker = store.first_unseen(chat).await.map_err(fail)?;
    check(marker == Some((first.id, 3)), || {
        format!("unread marker {marker:?}")
    })?;
    let (seen, receipts) = store.mark_seen(chat).await.map_err(fail)?;
    check(seen == [first.id, missed.id, last.id], || {
        format!("marked {seen:?}")
    })?;
    check(receipts == [first.id, last.id], || {
        "a missed call got a read receipt".into()
    })?;
    check(
        store.first_unseen(chat).await.map_err(fail)?.is_none(),
        || "still unread after marking seen".into(),
    )?;
    let rows = store.summaries().await.map_err(fail)?;
    check(rows.iter().all(|r| r.unread == 0), || {
        "the summary still counts unread".into()
    })
}

async fn removal<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let kept = msg(chat, 1, false);
    let gone = msg(chat, 2, false);
    let pending = msg(chat, 3, true);
    store
        .add_new(vec![kept.clone(), gone.clone()])
        .await
        .map_err(fail)?;
    store.compose(&pending).await.map_err(fail)?;
    let unknown = MessageId::new_v7();
    let removed = store
        .remove(&[gone.id, unknown, pending.id])
        .await
        .map_err(fail)?;
    check(ids(&removed) == [gone.id, pending.id], || {
        format!("remove() returned {:?}", ids(&removed))
    })?;
    let known = store
        .known(&[kept.id, gone.id, pending.id])
        .await
        .map_err(fail)?;
    check(known == HashSet::from([kept.id]), || {
        format!("after removal known() is {known:?}")
    })?;
    let outbox = store.outbox().await.map_err(fail)?;
    check(outbox.is_empty(), || {
        format!("a removed message stayed in the outbox: {outbox:?}")
    })?;
    let (page, _) = store.older(chat, None, 10).await.map_err(fail)?;
    check(ids(&page) == [kept.id], || {
        format!("a removed message still pages: {:?}", ids(&page))
    })
}

async fn clearing<S: Store>(store: &S) -> CaseResult {
    let chat = direct();
    let other = direct();
    let old = msg(chat, 10, false);
    let edge = msg(chat, 20, false);
    let pending = msg(chat, 15, true);
    let later = msg(chat, 21, false);
    let elsewhere = msg(other, 5, false);
    store
        .add_new(vec![
            old.clone(),
            edge.clone(),
            later.clone(),
            elsewhere.clone(),
        ])
        .await
        .map_err(fail)?;
    store.compose(&pending).await.map_err(fail)?;
    // Disappearing messages keep notices, and what came before the timer.
    let mut notice = msg(chat, 12, false);
    notice.body = Body::SafetyChanged;
    notice.seen = true;
    store.add_new(vec![notice.clone()]).await.map_err(fail)?;
    let gone = ids(&store.clear(chat, 11, 15, true).await.map_err(fail)?);
    check(gone == [pending.id], || {
        format!("a sweep of 11..=15 removed {gone:?}")
    })?;
    let (left, _) = store.older(chat, None, 10).await.map_err(fail)?;
    check(ids(&left) == [later.id, edge.id, notice.id, old.id], || {
        format!("after the sweep, the chat holds {:?}", ids(&left))
    })?;
    let mut gone = ids(&store
        .clear(chat, Millis::MIN, 20, false)
        .await
        .map_err(fail)?);
    gone.sort();
    let mut expected = vec![old.id, notice.id, edge.id];
    expected.sort();
    check(gone == expected, || format!("clear() removed {gone:?}"))?;
    let (left, _) = store.older(chat, None, 10).await.map_err(fail)?;
    check(ids(&left) == [later.id], || {
        format!("after clearing, the chat holds {:?}", ids(&left))
    })?;
    let (kept, _) = store.older(other, None, 10).await.map_err(fail)?;
    check(ids(&kept) == [elsewhere.id], || {
        "another chat was touched".into()
    })?;
    let outbox = store.outbox().await.map_err(fail)?;
    check(outbox.is_empty(), || {
        "a cleared message stayed in the outbox".into()
    })?;
    let rows = store.summaries().await.map_err(fail)?;
    let row = rows.iter().find(|r| r.chat == chat);
    check(
        row.and_then(|r| r.last.as_ref()).map(|m| m.id) == Some(later.id)
            && row.is_some_and(|r| r.unread == 1),
        || format!("the summary after clearing: {row:?}"),
    )
}

async fn meta<S: Store>(store: &S) -> CaseResult {
    check(
        store.meta_json("cards").await.map_err(fail)?.is_none(),
        || "a fresh store has meta".into(),
    )?;
    store.set_meta_json("cards", "[1]").await.map_err(fail)?;
    store.set_meta_json("cards", "[1,2]").await.map_err(fail)?;
    let back = store.meta_json("cards").await.map_err(fail)?;
    check(back.as_deref() == Some("[1,2]"), || {
        format!("meta read back {back:?}")
    })
}

async fn crypto<S: Store>(store: &S) -> CaseResult {
    let fresh = store.crypto().await.map_err(fail)?;
    check(
        fresh.account.is_none() && fresh.peers.is_empty() && fresh.legacy.is_none(),
        || "a fresh store has encryption state".into(),
    )?;
    let (a, b) = (DeviceId::new_v7(), DeviceId::new_v7());
    store
        .save_crypto(&CryptoChanges {
            reset: false,
            account: Some("account-1".into()),
            peers: vec![(a, Some("a-1".into())), (b, Some("b-1".into()))],
        })
        .await
        .map_err(fail)?;
    store
        .save_crypto(&CryptoChanges {
            reset: false,
            account: None,
            peers: vec![(a, Some("a-2".into())), (b, None)],
        })
        .await
        .map_err(fail)?;
    let back = store.crypto().await.map_err(fail)?;
    check(
        back.account.as_deref() == Some("account-1") && back.peers == ["a-2"],
        || format!("encryption state read back {back:?}"),
    )?;
    // A new identity: nothing of the old one may survive, sessions least.
    store
        .save_crypto(&CryptoChanges {
            reset: true,
            account: Some("account-2".into()),
            peers: vec![(b, Some("b-2".into()))],
        })
        .await
        .map_err(fail)?;
    let back = store.crypto().await.map_err(fail)?;
    check(
        back.account.as_deref() == Some("account-2") && back.peers == ["b-2"],
        || format!("after a reset, read back {back:?}"),
    )?;
    // Other meta keys next to the crypto ones are left alone.
    store.set_meta_json("olm:peer", "1").await.map_err(fail)?;
    store
        .set_meta_json("olm:peerless", "2")
        .await
        .map_err(fail)?;
    let back = store.crypto().await.map_err(fail)?;
    check(back.peers == ["b-2"], || {
        format!("a neighbouring key was read as a session: {back:?}")
    })?;
    store
        .save_crypto(&CryptoChanges {
            reset: true,
            account: Some("account-3".into()),
            peers: Vec::new(),
        })
        .await
        .map_err(fail)?;
    check(
        store.meta_json("olm:peer").await.map_err(fail)?.as_deref() == Some("1")
            && store
                .meta_json("olm:peerless")
                .await
                .map_err(fail)?
                .as_deref()
                == Some("2"),
        || "a reset removed a neighbouring meta key".into(),
    )
}
