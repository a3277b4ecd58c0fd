//! The audit trail's hash chain. Each record of a user's trail carries its position (`seq`, from 1) and the
//! hash of the record before it (`prev`); the store keeps each record's JSON exactly as hashed, its hash, and
//! the head (the last position and hash). So a changed record (its hash no longer matches), a reordered or
//! removed one (a broken `prev` or a gap in `seq`) and a removed last record (the head names a record that is
//! not there) are all found by [`verify`]. Hashes are SHA-256, hex.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;
use super::conversation::AuditRecord;

/// The last link of a chain: what the next record points back to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: String,
}

impl ChainHead {
    /// `seq:hash`, as stored.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.seq, self.hash)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let (seq, hash) = raw.split_once(':')?;
        Some(Self { seq: seq.parse().ok()?, hash: hash.to_owned() })
    }
}

/// One stored link: the record's JSON as it was hashed, and the hash stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub json: String,
    pub hash: String,
}

/// A user's whole trail as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredChain {
    pub links: Vec<Link>,
    pub head: Option<ChainHead>,
}

pub fn hash(json: &str) -> String {
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// Links `records` after `head`: sets each one's `seq` and `prev`, and answers the links to store and the new head.
pub fn link(head: &ChainHead, records: &[AuditRecord]) -> Result<(Vec<Link>, ChainHead), StoreError> {
    let mut head = head.clone();
    let mut links = Vec::with_capacity(records.len());
    for record in records {
        let mut record = record.clone();
        record.seq = head.seq + 1;
        record.prev = head.hash.clone();
        let json = super::to_json(&record)?;
        let hash = hash(&json);
        head = ChainHead { seq: record.seq, hash: hash.clone() };
        links.push(Link { json, hash });
    }
    Ok((links, head))
}

/// What is wrong at one place of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Break {
    /// The record's content does not match the hash stored with it: it was changed.
    Changed { position: usize, seq: u64 },
    /// The record does not point to the one before it: a record was removed or moved before it.
    Unlinked { position: usize, seq: u64, expected_seq: u64 },
    /// The record cannot be read at all.
    Unreadable { position: usize },
    /// The trail ends before the head it recorded: its last records were removed.
    Truncated { head_seq: u64, last_seq: u64 },
}

/// The result of checking a trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub records: usize,
    pub head: Option<ChainHead>,
    pub breaks: Vec<Break>,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Checks every link of `chain` and its head.
pub fn verify(chain: &StoredChain) -> Verification {
    let mut breaks = Vec::new();
    let mut previous = ChainHead::default();
    for (position, link) in chain.links.iter().enumerate() {
        let Ok(record) = serde_json::from_str::<AuditRecord>(&link.json) else {
            breaks.push(Break::Unreadable { position });
            continue;
        };
        if hash(&link.json) != link.hash {
            breaks.push(Break::Changed { position, seq: record.seq });
        }
        if record.seq != previous.seq + 1 || record.prev != previous.hash {
            breaks.push(Break::Unlinked { position, seq: record.seq, expected_seq: previous.seq + 1 });
        }
        previous = ChainHead { seq: record.seq, hash: link.hash.clone() };
    }
    if let Some(head) = &chain.head
        && (head.seq != previous.seq || head.hash != previous.hash)
    {
        breaks.push(Break::Truncated { head_seq: head.seq, last_seq: previous.seq });
    }
    Verification { records: chain.links.len(), head: chain.head.clone(), breaks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u64) -> AuditRecord {
        AuditRecord {
            at: n,
            conversation_id: "c-1".into(),
            actor: "user".into(),
            event: format!("e{n}"),
            ..Default::default()
        }
    }

    fn chain(n: u64) -> StoredChain {
        let records: Vec<_> = (1..=n).map(record).collect();
        let (links, head) = link(&ChainHead::default(), &records).unwrap();
        StoredChain { links, head: Some(head) }
    }

    #[test]
    fn an_intact_chain_verifies_and_each_kind_of_tampering_is_named() {
        assert!(verify(&chain(5)).intact());

        let mut changed = chain(5);
        changed.links[2].json = changed.links[2].json.replace("e3", "e9");
        assert_eq!(verify(&changed).breaks, [Break::Changed { position: 2, seq: 3 }]);

        let mut removed = chain(5);
        removed.links.remove(1);
        assert_eq!(verify(&removed).breaks, [Break::Unlinked { position: 1, seq: 3, expected_seq: 2 }]);

        let mut reordered = chain(5);
        reordered.links.swap(1, 2);
        assert!(matches!(verify(&reordered).breaks[0], Break::Unlinked { position: 1, .. }));

        let mut truncated = chain(5);
        truncated.links.pop();
        assert_eq!(verify(&truncated).breaks, [Break::Truncated { head_seq: 5, last_seq: 4 }]);

        // Rewriting a record and its hash does not help: the next record still points to the old hash.
        let mut rewritten = chain(5);
        rewritten.links[2].json = rewritten.links[2].json.replace("e3", "e9");
        rewritten.links[2].hash = hash(&rewritten.links[2].json);
        assert_eq!(verify(&rewritten).breaks, [Break::Unlinked { position: 3, seq: 4, expected_seq: 4 }]);
    }

    #[test]
    fn links_continue_from_the_head() {
        let first = chain(2);
        let (more, head) = link(first.head.as_ref().unwrap(), &[record(3)]).unwrap();
        let mut whole = first.clone();
        whole.links.extend(more);
        whole.head = Some(head);
        assert!(verify(&whole).intact());
        assert_eq!(ChainHead::decode(&whole.head.clone().unwrap().encode()), whole.head);
    }
}
