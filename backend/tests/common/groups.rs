//! Groups for tests: people who sign changes, and group sends.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::client::{Client, register_signing};
use parley_protocol::api::Session;
use parley_protocol::endpoint::{self as e, url};
use parley_protocol::frame::ClientFrame;
use parley_protocol::group::{GroupChange, GroupEvent, GroupHead, GroupRecord, SignedGroupEvent};
use parley_protocol::{DeviceId, GroupId, MessageId, UserId};
use parley_server::testing::TestServer;
use vodozemac::olm::Account;

/// A plain HTTP client.
pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// A person who signs group changes with their device's key.
pub struct Signer {
    pub session: Session,
    pub account: Account,
}

impl Signer {
    pub async fn new(server: &TestServer, handle: &str) -> Self {
        Self::at(&server.http(""), handle).await
    }

    /// Registers at `base` (`http://host:port`).
    pub async fn at(base: &str, handle: &str) -> Self {
        let (session, account) = register_signing(base, handle).await;
        Self { session, account }
    }

    pub fn user(&self) -> UserId {
        self.session.profile.user_id
    }

    pub fn sign(
        &self,
        group: GroupId,
        seq: u64,
        prev: [u8; 32],
        change: GroupChange,
    ) -> SignedGroupEvent {
        let event = GroupEvent {
            group,
            seq,
            prev,
            by: self.user(),
            by_device: self.session.device_id,
            change,
        };
        let signature = self.account.sign(event.signing_text().unwrap()).to_base64();
        SignedGroupEvent { event, signature }
    }

    /// Creates a group with `members`; answers its id and creation event.
    pub async fn create(
        &self,
        server: &TestServer,
        members: &[UserId],
    ) -> (GroupId, SignedGroupEvent) {
        self.create_at(&server.http(""), members).await
    }

    /// [`Signer::create`] at `base`.
    pub async fn create_at(&self, base: &str, members: &[UserId]) -> (GroupId, SignedGroupEvent) {
        let group = GroupId::new_v7();
        let create = self.sign(
            group,
            1,
            [0; 32],
            GroupChange::Create {
                name: "Hikers".into(),
                description: String::new(),
                members: members.to_vec(),
            },
        );
        let res = http()
            .post(format!("{base}{}", url::<e::CreateGroup>(&())))
            .bearer_auth(&self.session.token)
            .json(&create)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let head: GroupHead = res.json().await.unwrap();
        assert_eq!((head.group, head.seq, head.member), (group, 1, true));
        (group, create)
    }

    /// Signs `change` after `last` and appends it: the status and code.
    pub async fn append(
        &self,
        server: &TestServer,
        last: &SignedGroupEvent,
        change: GroupChange,
    ) -> (u16, Option<SignedGroupEvent>) {
        let group = last.event.group;
        let next = self.sign(group, last.event.seq + 1, last.hash().unwrap(), change);
        let res = http()
            .post(server.http(&url::<e::AppendGroupEvent>(&group)))
            .bearer_auth(&self.session.token)
            .json(&next)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status == 201 {
            let record: GroupRecord = res.json().await.unwrap();
            assert_eq!(record.signed, next);
            (status, Some(next))
        } else {
            (status, None)
        }
    }
}

/// Sends one ciphertext to the listed member devices.
pub async fn send_group(
    client: &mut Client,
    id: MessageId,
    group: GroupId,
    mut devices: Vec<DeviceId>,
) {
    devices.sort_unstable();
    client
        .send_frame(ClientFrame::SendGroup {
            id,
            group,
            devices,
            body: b"megolm".to_vec(),
            expires_in: None,
        })
        .await;
}
