//! The key directory's answers as the client reads them: `Vec<DeviceKeys>`
//! from `GET /users/{id}/keys` (first byte even) and `Vec<ClaimedKey>` from
//! `POST /keys/claim` (odd), parsed and fed to `Machine::add_device` and
//! `Machine::add_claimed`. The server is not trusted with keys: nothing may
//! panic, a device is pinned only when its identity verifies, and a claimed
//! key that is accepted gives a session that encrypts.

use super::devices::{claimable, published};
use crate::engine::{Broken, Target, Verdict};
use parley_client::crypto::Machine;
use parley_protocol::api::{ClaimedKey, DeviceKeys};
use uuid::Uuid;

struct DirectoryAnswers {
    /// The client reading the answers.
    me: Machine,
    seeds: Vec<Vec<u8>>,
}

fn with_kind(kind: u8, json: Result<Vec<u8>, serde_json::Error>) -> Result<Vec<u8>, String> {
    let mut input = vec![kind];
    input.extend(json.map_err(|e| e.to_string())?);
    Ok(input)
}

fn setup() -> Result<DirectoryAnswers, String> {
    let mut bob = Machine::new(Uuid::from_u128(0xb0b).into());
    let mut bobs_laptop = Machine::new(Uuid::from_u128(0xb0b2).into());
    let identities = vec![published(&bob), published(&bobs_laptop)];
    let mut claimed = claimable(&mut bob)?;
    claimed.extend(claimable(&mut bobs_laptop)?);
    Ok(DirectoryAnswers {
        me: Machine::new(Uuid::from_u128(0xa11c).into()),
        seeds: vec![
            with_kind(0, serde_json::to_vec(&identities))?,
            with_kind(1, serde_json::to_vec(&claimed))?,
        ],
    })
}

impl DirectoryAnswers {
    fn identities(&mut self, answer: &[DeviceKeys]) -> Result<bool, Broken> {
        let mut any = false;
        for keys in answer {
            let known = self.me.knows(keys.device_id);
            let pinned = self.me.add_device(keys).is_ok();
            if self.me.knows(keys.device_id) != (known || pinned) {
                return Err(Broken::new(
                    "a device is pinned only when its identity is accepted",
                    format!("{keys:?}"),
                ));
            }
            any |= pinned;
        }
        Ok(any)
    }

    fn claimed(&mut self, answer: &[ClaimedKey]) -> Result<bool, Broken> {
        let mut any = false;
        for claimed in answer {
            let device = claimed.device.device_id;
            if self.me.add_claimed(claimed).is_err() {
                continue;
            }
            any = true;
            if self.me.encrypt(&[device], b"hello").is_err() {
                return Err(Broken::new(
                    "an accepted claimed key gives a session that encrypts",
                    format!("{claimed:?}"),
                ));
            }
        }
        Ok(any)
    }
}

impl Target for DirectoryAnswers {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn dictionary(&self) -> &'static [&'static [u8]] {
        &[
            b"\"fallback\":true",
            b"\"fallback\":false",
            b"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"",
            b"\"00000000-0000-0000-0000-000000000b0b\"",
            b"=",
            b"+",
            b"/",
            b"null",
        ]
    }

    fn check(&mut self, input: &[u8]) -> Result<Verdict, Broken> {
        let Some((&kind, json)) = input.split_first() else {
            return Ok(Verdict::Rejected);
        };
        let result = if kind % 2 == 0 {
            match serde_json::from_slice::<Vec<DeviceKeys>>(json) {
                Ok(answer) => {
                    let any = self.identities(&answer);
                    answer
                        .iter()
                        .for_each(|k| self.me.forget_device(k.device_id));
                    any
                }
                Err(_) => return Ok(Verdict::Rejected),
            }
        } else {
            match serde_json::from_slice::<Vec<ClaimedKey>>(json) {
                Ok(answer) => {
                    let any = self.claimed(&answer);
                    answer
                        .iter()
                        .for_each(|k| self.me.forget_device(k.device.device_id));
                    any
                }
                Err(_) => return Ok(Verdict::Rejected),
            }
        };
        Ok(if result? {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        })
    }
}

/// The `device_keys` target.
pub fn target() -> Result<Box<dyn Target>, String> {
    Ok(Box::new(setup()?))
}
