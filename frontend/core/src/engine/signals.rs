//! Call signals: encrypted like messages, but ephemeral. Offline, or for a
//! device without a session, they are dropped (the call's timeout covers
//! it); they are never stored or acked.

use super::{Effect, Engine, EngineError, Outgoing, Outside};
use crate::call::Target;
use crate::store::Store;
use parley_protocol::DeviceId;
use parley_protocol::frame::{ClientFrame, SignalDelivery};

impl<S: Store, O: Outside> Engine<S, O> {
    /// Encrypts a call signal for each target device and sends it.
    pub(super) async fn signal_out(&mut self, out: Outgoing) -> Result<(), EngineError> {
        if !self.out.online() {
            return Ok(());
        }
        let Outgoing {
            peer,
            target,
            plaintext,
            refresh,
        } = out;
        let owner = if target == Target::Own { self.me } else { peer };
        if refresh {
            self.refresh_devices(owner).await?;
        }
        let list = self
            .chat
            .known_devices()
            .get(&owner)
            .cloned()
            .unwrap_or_default();
        let devices: Vec<DeviceId> = match target {
            Target::Device(d) => vec![d],
            Target::Peer | Target::Own => list,
            Target::PeerExcept(skip) => list.into_iter().filter(|d| *d != skip).collect(),
        }
        .into_iter()
        .filter(|d| *d != self.device)
        .collect();
        if devices.is_empty() {
            self.warn(format!("call signal for {owner} dropped: no device known"));
            return Ok(());
        }
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        let (started, missing) = secure.ensure_sessions(&self.out, &devices).await;
        if started {
            self.check_identity(peer).await?;
        }
        let ready: Vec<DeviceId> = devices
            .into_iter()
            .filter(|d| !missing.contains(d))
            .collect();
        if ready.is_empty() {
            self.warn(format!(
                "call signal for {owner} dropped: no session with any device"
            ));
            return Ok(());
        }
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        match secure.encrypt(&self.store, &ready, &plaintext).await? {
            Ok(payloads) => self
                .out
                .emit(Effect::Send(ClientFrame::Signal { to: peer, payloads })),
            Err(err) => self.warn(format!("cannot encrypt a call signal: {err}")),
        }
        Ok(())
    }

    /// Decrypts a call signal and hands it to the call controller.
    pub(super) async fn signal_in(&mut self, signal: SignalDelivery) -> Result<(), EngineError> {
        let knows = self
            .secure
            .as_ref()
            .ok_or(EngineError::NotLoaded)?
            .knows(signal.from_device);
        if !knows {
            self.refresh_devices(signal.from).await?;
        }
        let secure = self.secure.as_mut().ok_or(EngineError::NotLoaded)?;
        match secure.decrypt_signal(signal.from_device, &signal.body) {
            Ok(plaintext) => {
                secure.save(&self.store).await?;
                self.out.emit(Effect::Signal {
                    from: signal.from,
                    device: signal.from_device,
                    plaintext,
                });
            }
            Err(err) => {
                self.warn(format!(
                    "cannot decrypt a call signal from {}: {err}",
                    signal.from
                ));
            }
        }
        Ok(())
    }
}
