//! Mailbox positions: how far the IMAP source has read each folder, so that a restart neither
//! reads a message twice nor misses one.
//!
//! IMAP names a message by its UID, which is meaningful only together with the folder's
//! UIDVALIDITY. The position of a folder is therefore the pair (UIDVALIDITY, last UID read). When
//! the server announces a new UIDVALIDITY, every old UID is void and reading starts over; the
//! raw-alert dedupe (by Message-ID or content hash) keeps that from storing anything twice.
//!
//! A message and its UID are recorded in one transaction ([`Store::store_mailbox_alert`]), so the
//! store never says "read" for a message it does not hold, nor holds one it would read again.

use rusqlite::OptionalExtension;

use super::alerts::PreparedRawAlert;
use super::{SqlContext, Store, StoreError, timestamp_text};
use crate::domain::RawAlert;

/// Which folder of which account on which server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxKey {
    /// The IMAP host as configured (lower-cased by the caller if it wants case-insensitivity).
    pub server: String,
    pub username: String,
    pub folder: String,
}

/// How far a folder has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxPosition {
    /// The folder's UIDVALIDITY when `last_uid` was read.
    pub uidvalidity: u32,
    /// The highest UID stored; every message with a greater UID is still to be read.
    pub last_uid: u32,
}

impl MailboxPosition {
    /// The last UID already read under `uidvalidity`: 0 (nothing) when the folder was never
    /// read or the server has renumbered it since.
    pub fn last_uid_under(position: Option<MailboxPosition>, uidvalidity: u32) -> u32 {
        match position {
            Some(p) if p.uidvalidity == uidvalidity => p.last_uid,
            _ => 0,
        }
    }
}

/// Moves the position forward to `uid` (never back), or starts it over when `uidvalidity` is
/// not the stored one.
fn record_uid_in(
    tx: &rusqlite::Transaction<'_>,
    key: &MailboxKey,
    uidvalidity: u32,
    uid: u32,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO mailbox_state (server, username, folder, uidvalidity, last_uid, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (server, username, folder) DO UPDATE SET
             last_uid = CASE WHEN uidvalidity = excluded.uidvalidity
                             THEN MAX(last_uid, excluded.last_uid)
                             ELSE excluded.last_uid END,
             uidvalidity = excluded.uidvalidity,
             updated_at = excluded.updated_at",
        rusqlite::params![key.server, key.username, key.folder, uidvalidity, uid, now],
    )
    .ctx("recording a mailbox position")?;
    Ok(())
}

/// One message read from a folder, to be stored in a batch ([`Store::store_mailbox_batch`]).
#[derive(Debug, Clone)]
pub struct MailboxMessage {
    pub uid: u32,
    pub alert: RawAlert,
    /// `Some(bytes)` when only the first bytes of a message that large were read.
    pub original_size: Option<u64>,
}

impl Store {
    /// How far `key` has been read, or `None` if it never was.
    pub fn mailbox_position(&self, key: &MailboxKey) -> Result<Option<MailboxPosition>, StoreError> {
        let row: Option<(i64, i64)> = self.read(|conn| {
            conn.query_row(
                "SELECT uidvalidity, last_uid FROM mailbox_state
                 WHERE server = ?1 AND username = ?2 AND folder = ?3",
                (&key.server, &key.username, &key.folder),
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .ctx("reading a mailbox position")
        })?;
        let Some((uidvalidity, last_uid)) = row else {
            return Ok(None);
        };
        let corrupt = |column: &'static str, value: i64| StoreError::Corrupt {
            table: "mailbox_state",
            column,
            row: format!("{}/{}/{}", key.server, key.username, key.folder),
            value: value.to_string(),
        };
        Ok(Some(MailboxPosition {
            uidvalidity: u32::try_from(uidvalidity).map_err(|_| corrupt("uidvalidity", uidvalidity))?,
            last_uid: u32::try_from(last_uid).map_err(|_| corrupt("last_uid", last_uid))?,
        }))
    }

    /// Records that the message `uid` of `key` (under `uidvalidity`) has been read. The
    /// position only moves forward within one UIDVALIDITY; a new UIDVALIDITY replaces it.
    pub fn record_uid(&self, key: &MailboxKey, uidvalidity: u32, uid: u32) -> Result<(), StoreError> {
        self.write(|tx, now| record_uid_in(tx, key, uidvalidity, uid, &timestamp_text(now)))
    }

    /// Stores the raw alert read from message `uid` of `key` and records the UID as read, in one
    /// transaction. Returns the raw alert's row id and whether it is new (`false`: the same
    /// message was already stored, e.g. read again after a UIDVALIDITY change).
    ///
    /// `original_size` is `Some(bytes)` when `alert` was read from only the first bytes of a
    /// message that large (over `email.max_message_bytes`): the row is marked truncated with it.
    pub fn store_mailbox_alert(
        &self,
        key: &MailboxKey,
        uidvalidity: u32,
        uid: u32,
        alert: &RawAlert,
        original_size: Option<u64>,
    ) -> Result<(i64, bool), StoreError> {
        let prepared = PreparedRawAlert::new(alert)?.truncated_from(original_size);
        self.write(|tx, now| {
            let stored = prepared.insert(tx, now)?;
            record_uid_in(tx, key, uidvalidity, uid, &timestamp_text(now))?;
            Ok(stored)
        })
    }

    /// Stores a batch of messages of `key` and records the highest UID as read, all in one
    /// transaction: either every message of the batch and the position are stored, or none.
    /// Returns, per message in order, the raw alert's row id and whether it is new (`false`: the
    /// same Message-ID or content was already stored, e.g. a second delivery or a renumbering).
    pub fn store_mailbox_batch(
        &self,
        key: &MailboxKey,
        uidvalidity: u32,
        messages: &[MailboxMessage],
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        let prepared = messages
            .iter()
            .map(|message| Ok(PreparedRawAlert::new(&message.alert)?.truncated_from(message.original_size)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let Some(last) = messages.iter().map(|message| message.uid).max() else {
            return Ok(Vec::new());
        };
        self.write(|tx, now| {
            let stored = prepared.iter().map(|alert| alert.insert(tx, now)).collect::<Result<Vec<_>, _>>()?;
            record_uid_in(tx, key, uidvalidity, last, &timestamp_text(now))?;
            Ok(stored)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn key() -> MailboxKey {
        MailboxKey { server: "imap.example.org".into(), username: "alerts".into(), folder: "INBOX".into() }
    }

    fn alert(n: u32) -> RawAlert {
        RawAlert::from_parts(&format!("alert {n}"), "body", "2026-11-25T01:02:03Z".into())
    }

    #[test]
    fn a_folder_never_read_has_no_position() {
        let (store, _) = testing::store();
        assert_eq!(store.mailbox_position(&key()).unwrap(), None);
        assert_eq!(MailboxPosition::last_uid_under(None, 7), 0);
    }

    #[test]
    fn the_position_moves_forward_only() {
        let (store, _) = testing::store();
        store.record_uid(&key(), 7, 5).unwrap();
        store.record_uid(&key(), 7, 3).unwrap();
        let position = store.mailbox_position(&key()).unwrap();
        assert_eq!(position, Some(MailboxPosition { uidvalidity: 7, last_uid: 5 }));
        assert_eq!(MailboxPosition::last_uid_under(position, 7), 5);
    }

    #[test]
    fn a_new_uidvalidity_starts_over() {
        let (store, _) = testing::store();
        store.record_uid(&key(), 7, 50).unwrap();
        let position = store.mailbox_position(&key()).unwrap();
        assert_eq!(MailboxPosition::last_uid_under(position, 8), 0);
        store.record_uid(&key(), 8, 2).unwrap();
        assert_eq!(store.mailbox_position(&key()).unwrap(), Some(MailboxPosition { uidvalidity: 8, last_uid: 2 }));
    }

    #[test]
    fn folders_and_users_are_kept_apart() {
        let (store, _) = testing::store();
        store.record_uid(&key(), 7, 5).unwrap();
        let other = MailboxKey { folder: "Alerts".into(), ..key() };
        assert_eq!(store.mailbox_position(&other).unwrap(), None);
        let someone_else = MailboxKey { username: "bob".into(), ..key() };
        assert_eq!(store.mailbox_position(&someone_else).unwrap(), None);
    }

    #[test]
    fn a_message_and_its_uid_are_stored_together() {
        let (store, _) = testing::store();
        let (id, new) = store.store_mailbox_alert(&key(), 7, 1, &alert(1), None).unwrap();
        assert!(new);
        assert_eq!(store.get_raw_alert(id).unwrap().subject, "alert 1");
        assert_eq!(store.mailbox_position(&key()).unwrap(), Some(MailboxPosition { uidvalidity: 7, last_uid: 1 }));
        // Read again after a renumbering: not stored twice, but the new position is kept.
        let (again, new) = store.store_mailbox_alert(&key(), 8, 1, &alert(1), None).unwrap();
        assert_eq!((again, new), (id, false));
        assert_eq!(store.mailbox_position(&key()).unwrap(), Some(MailboxPosition { uidvalidity: 8, last_uid: 1 }));
    }

    #[test]
    fn a_truncated_message_is_stored_marked_with_its_original_size() {
        let (store, _) = testing::store();
        let (id, _) = store.store_mailbox_alert(&key(), 7, 1, &alert(1), Some(52_428_800)).unwrap();
        assert_eq!(store.get_raw_alert(id).unwrap().original_size, Some(52_428_800));
        let (whole, _) = store.store_mailbox_alert(&key(), 7, 2, &alert(2), None).unwrap();
        assert_eq!(store.get_raw_alert(whole).unwrap().original_size, None, "a whole message is not marked");
    }

    #[test]
    fn a_batch_and_its_last_uid_are_stored_together_and_deduplicated() {
        let (store, _) = testing::store();
        let batch: Vec<MailboxMessage> = (1..=3)
            .map(|uid| MailboxMessage { uid, alert: alert(uid), original_size: (uid == 2).then_some(9_999_999) })
            .collect();
        let stored = store.store_mailbox_batch(&key(), 7, &batch).unwrap();
        assert_eq!(stored.iter().map(|(_, new)| *new).collect::<Vec<_>>(), [true, true, true]);
        assert_eq!(store.get_raw_alert(stored[1].0).unwrap().original_size, Some(9_999_999));
        assert_eq!(store.mailbox_position(&key()).unwrap(), Some(MailboxPosition { uidvalidity: 7, last_uid: 3 }));
        // Stored, then a crash before the flags: read again (a new UIDVALIDITY), nothing doubles.
        let again = store.store_mailbox_batch(&key(), 8, &batch).unwrap();
        assert_eq!(again, stored.iter().map(|(id, _)| (*id, false)).collect::<Vec<_>>());
        assert_eq!(store.list_raw_alerts(false, None).unwrap().len(), 3);
        assert_eq!(store.store_mailbox_batch(&key(), 8, &[]).unwrap(), []);
    }

    #[test]
    fn a_batch_with_one_bad_message_stores_nothing() {
        let (store, _) = testing::store();
        let mut bad = alert(2);
        bad.received_at = "yesterday".into();
        let batch = [
            MailboxMessage { uid: 1, alert: alert(1), original_size: None },
            MailboxMessage { uid: 2, alert: bad, original_size: None },
        ];
        assert!(store.store_mailbox_batch(&key(), 7, &batch).is_err());
        assert_eq!(store.mailbox_position(&key()).unwrap(), None);
        assert!(store.list_raw_alerts(false, None).unwrap().is_empty());
    }

    #[test]
    fn a_failed_store_records_no_position() {
        let (store, _) = testing::store();
        let mut bad = alert(1);
        bad.received_at = "yesterday".into();
        assert!(store.store_mailbox_alert(&key(), 7, 1, &bad, None).is_err());
        assert_eq!(store.mailbox_position(&key()).unwrap(), None);
    }
}
