//! Whom to encrypt for, and whether their keys are still the ones this
//! person saw: device lists, "safety number changed" notices, safety
//! numbers and the verified mark.

use super::{Engine, EngineError, Outside, Safety};
use crate::message::{Body, Message, Status};
use crate::store::Store;
use crate::verification::safety_number;
use parley_protocol::api::DeviceKeys;
use parley_protocol::{ConversationId, DeviceId, MessageId, UserId};
use std::collections::BTreeSet;

fn device_ids(keys: &[DeviceKeys]) -> Vec<DeviceId> {
    keys.iter().map(|k| k.device_id).collect()
}

impl<S: Store, O: Outside> Engine<S, O> {
    /// Whether `peer` has a device that can receive: from the lists learnt
    /// so far, else from the key directory (which also pins their keys).
    pub(super) async fn peer_has_devices(&mut self, peer: UserId) -> Result<bool, EngineError> {
        if self
            .chat
            .known_devices()
            .get(&peer)
            .is_some_and(|d| !d.is_empty())
        {
            return Ok(true);
        }
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let Some(keys) = secure.learn_user(&self.out, peer).await else {
            return Ok(false);
        };
        let devices = device_ids(&keys);
        self.chat.set_devices(peer, devices.clone());
        self.identity_seen(peer, &devices).await?;
        Ok(!devices.is_empty())
    }

    /// Fetches `user`'s current devices (pinning their keys) and compares
    /// their keys with what was seen before.
    pub(super) async fn refresh_devices(&mut self, user: UserId) -> Result<(), EngineError> {
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        if let Some(keys) = secure.learn_user(&self.out, user).await {
            let devices = device_ids(&keys);
            self.chat.set_devices(user, devices.clone());
            self.identity_seen(user, &devices).await?;
        }
        Ok(())
    }

    /// `user`'s devices as this device knows them.
    fn known(&self, user: UserId) -> Vec<DeviceId> {
        self.chat
            .known_devices()
            .get(&user)
            .cloned()
            .unwrap_or_default()
    }

    /// Compares `user`'s pinned device keys with what was seen before.
    pub(super) async fn check_identity(&mut self, user: UserId) -> Result<(), EngineError> {
        let devices = self.known(user);
        self.identity_seen(user, &devices).await
    }

    /// [`Engine::check_identity`] for several people at once (a group's
    /// members), writing the identities once.
    pub(super) async fn check_identities(&mut self, users: &[UserId]) -> Result<(), EngineError> {
        let lists: Vec<(UserId, Vec<DeviceId>)> = users
            .iter()
            .copied()
            .filter(|u| *u != self.me)
            .map(|u| (u, self.known(u)))
            .collect();
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let mut moved = false;
        let mut changed = Vec::new();
        for (user, devices) in lists {
            let keys = secure.keys_of(&devices);
            let before = secure.identity(user);
            let added = secure.observe(user, keys);
            if secure.identity(user) != before {
                moved = true;
                if added {
                    changed.push(user);
                }
            }
        }
        if moved {
            secure.save_identities(&self.store).await?;
        }
        for user in changed {
            self.identity_changed(user).await?;
        }
        Ok(())
    }

    /// Records the keys of `user`'s `devices`; a key not seen before puts a
    /// notice in the chat and clears the verified mark.
    async fn identity_seen(
        &mut self,
        user: UserId,
        devices: &[DeviceId],
    ) -> Result<(), EngineError> {
        // Notices are about other people; this account's own keys are not.
        if user == self.me {
            return Ok(());
        }
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let keys = secure.keys_of(devices);
        let before = secure.identity(user);
        let added = secure.observe(user, keys);
        if secure.identity(user) == before {
            return Ok(());
        }
        secure.save_identities(&self.store).await?;
        if added {
            self.identity_changed(user).await?;
        }
        Ok(())
    }

    /// `user` has a key not seen before: the verified mark goes, and a
    /// notice goes in every chat shared with them, as WhatsApp does: the
    /// groups they are in with this person, and their direct chat when there
    /// is one or no group (a group member never written to gets no new chat
    /// for it).
    async fn identity_changed(&mut self, user: UserId) -> Result<(), EngineError> {
        if self.view.verified.remove(&user) {
            self.changed.verified = true;
        }
        let notice = |chat| Message {
            id: MessageId::new_v7(),
            chat,
            outgoing: false,
            from_device: self.device,
            composed_at: self.out.now(),
            server_at: None,
            status: Status::Sent,
            seen: true,
            failed: false,
            body: Body::SafetyChanged,
            // Whose number changed, for a group's "Ann's safety number…".
            sender: Some(user),
            ..Message::blank()
        };
        let groups: Vec<ConversationId> = self
            .view
            .groups
            .iter()
            .filter(|(_, r)| r.is_member(user) && r.is_member(self.me))
            .map(|(g, _)| ConversationId::Group(*g))
            .collect();
        let direct = ConversationId::Direct(user);
        let mut notices: Vec<Message> = groups.iter().map(|c| notice(*c)).collect();
        if groups.is_empty() || self.view.chats.get(direct).is_some() {
            notices.push(notice(direct));
        }
        let added = self.store.add_new(notices).await?;
        self.show_added(&added);
        Ok(())
    }

    /// The safety number with `peer`, from both people's current devices as
    /// the key directory lists them (each identity checked and pinned).
    pub(super) async fn safety(&mut self, peer: UserId) -> Result<Option<Safety>, EngineError> {
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let Some(theirs) = secure.learn_user(&self.out, peer).await else {
            return Ok(None);
        };
        let Some(mine) = secure.learn_user(&self.out, self.me).await else {
            return Ok(None);
        };
        let (theirs, mine) = (device_ids(&theirs), device_ids(&mine));
        let their_keys: Vec<String> = secure.keys_of(&theirs).into_iter().collect();
        let my_keys: Vec<String> = secure.keys_of(&mine).into_iter().collect();
        if their_keys.is_empty() || my_keys.is_empty() {
            return Ok(None);
        }
        self.chat.set_devices(peer, theirs.clone());
        self.identity_seen(peer, &theirs).await?;
        let number = safety_number((self.me, &my_keys), (peer, &their_keys));
        let secure = self.secure.as_ref().ok_or(EngineError::NotLoaded)?;
        let identity = secure.identity(peer);
        let verified =
            identity.verified && identity.keys == their_keys.into_iter().collect::<BTreeSet<_>>();
        Ok(Some(Safety { number, verified }))
    }

    /// Marks `peer` verified after comparing safety numbers (or clears it).
    pub(super) async fn verify(&mut self, peer: UserId, verified: bool) -> Result<(), EngineError> {
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        secure.set_verified(peer, verified);
        secure.save_identities(&self.store).await?;
        let changed = if verified {
            self.view.verified.insert(peer)
        } else {
            self.view.verified.remove(&peer)
        };
        self.changed.verified |= changed;
        Ok(())
    }
}
