//! What the person typed and did not send, per chat: kept in the store so
//! it survives switching chats and reloading, shown in the chat list as
//! "Draft: …", and gone once sent.

use super::{Engine, EngineError, Outside};
use crate::content::MAX_TEXT_BYTES;
use crate::store::{self, Store};
use crate::text::cut;
use parley_protocol::ConversationId;

/// Meta key of the drafts (a list of pairs: conversation ids are not JSON
/// map keys).
pub(super) const DRAFTS: &str = "drafts";

impl<S: Store, O: Outside> Engine<S, O> {
    /// Reads the drafts (on load).
    pub(super) async fn load_drafts(&mut self) -> Result<(), EngineError> {
        let stored = store::meta::<_, Vec<(ConversationId, String)>>(&self.store, DRAFTS).await?;
        self.view.drafts = stored.unwrap_or_default().into_iter().collect();
        self.changed.drafts = true;
        Ok(())
    }

    /// Keeps `text` as `chat`'s draft; blank text drops it.
    pub(super) async fn draft(
        &mut self,
        chat: ConversationId,
        text: &str,
    ) -> Result<(), EngineError> {
        let changed = if text.trim().is_empty() {
            self.view.drafts.remove(&chat).is_some()
        } else {
            let text = cut(text, MAX_TEXT_BYTES);
            let same = self.view.drafts.get(&chat).map(String::as_str) == Some(text);
            if !same {
                self.view.drafts.insert(chat, text.to_owned());
            }
            !same
        };
        if changed {
            self.save_drafts().await?;
        }
        Ok(())
    }

    /// `chat`'s draft was sent.
    pub(super) async fn drop_draft(&mut self, chat: ConversationId) -> Result<(), EngineError> {
        if self.view.drafts.remove(&chat).is_some() {
            self.save_drafts().await?;
        }
        Ok(())
    }

    async fn save_drafts(&mut self) -> Result<(), EngineError> {
        let mut list: Vec<(ConversationId, String)> = self
            .view
            .drafts
            .iter()
            .map(|(chat, text)| (*chat, text.clone()))
            .collect();
        list.sort();
        store::set_meta(&self.store, DRAFTS, &list).await?;
        self.changed.drafts = true;
        Ok(())
    }
}
