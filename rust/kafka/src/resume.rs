//! `produce --resume`: which records of the file a topic already holds, read
//! from their `sfcrime.index` headers (and from the dead-letter topic's), so
//! that a resumed run sends only the others and adds no duplicates.

use crate::admin;
use crate::client::KafkaSettings;
use crate::consume::{consume, ConsumeOptions, Start};
use crate::wire::{parse_index, INDEX_HEADER};
use anyhow::{Context, Result};
use rdkafka::message::{Headers, Message};
use std::time::Duration;

/// A set of record indexes, one bit each (the file has ~200k records).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSet {
    words: Vec<u64>,
    len: u64,
}

impl IndexSet {
    /// Adds `index`; false when it was there already.
    pub fn insert(&mut self, index: u64) -> bool {
        let (word, bit) = ((index / 64) as usize, 1u64 << (index % 64));
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let new = self.words[word] & bit == 0;
        self.words[word] |= bit;
        self.len += u64::from(new);
        new
    }

    pub fn contains(&self, index: u64) -> bool {
        self.words
            .get((index / 64) as usize)
            .is_some_and(|word| word & (1u64 << (index % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The indexes in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            (0..64)
                .filter(move |bit| word & (1u64 << bit) != 0)
                .map(move |bit| i as u64 * 64 + bit)
        })
    }
}

/// What a topic (with its dead-letter topic) already holds of the file.
#[derive(Debug, Clone, Default)]
pub struct TopicContents {
    /// Indexes of the records in the topic or dead-lettered.
    pub indexes: IndexSet,
    /// Records read that carry an index already seen: duplicates a resume
    /// cannot take back (an earlier `--start-at` resume makes them).
    pub duplicates: u64,
    /// Records without an `sfcrime.index` header (not sent by `sfcrime
    /// produce`): left alone, and not counted as any record of the file.
    pub foreign: u64,
}

/// Reads `topic` and `<topic>.dlq` (when it exists) from the beginning to
/// their end offsets at start, collecting the records' indexes.
pub fn topic_contents(
    kafka: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> Result<TopicContents> {
    let mut contents = TopicContents::default();
    let dead_letters = format!("{topic}.dlq");
    let dead_letters_exist = admin::partition_count(kafka, &dead_letters, timeout)?.is_some();
    for read in std::iter::once(topic).chain(dead_letters_exist.then_some(dead_letters.as_str())) {
        let options = ConsumeOptions {
            topic: read.to_string(),
            kafka: kafka.clone(),
            start: Start::Beginning,
            max_messages: None,
            timeout,
            verify: None,
            verify_copies: 1,
            verify_first: None,
            pipeline_latency_since_ms: 0,
        };
        consume(&options, |message| {
            let index = message
                .headers()
                .and_then(|headers| headers.iter().find(|h| h.key == INDEX_HEADER))
                .and_then(|header| header.value)
                .and_then(parse_index);
            match index {
                Some(index) if !contents.indexes.insert(index) => contents.duplicates += 1,
                Some(_) => {}
                None => contents.foreign += 1,
            }
        })
        .with_context(|| format!("cannot read what '{read}' already holds"))?;
    }
    Ok(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_set_counts_each_index_once() {
        let mut set = IndexSet::default();
        assert!(set.insert(3));
        assert!(set.insert(64));
        assert!(set.insert(199_998));
        assert!(!set.insert(64));
        assert_eq!(set.len(), 3);
        assert!(set.contains(3) && set.contains(64) && set.contains(199_998));
        assert!(!set.contains(4) && !set.contains(63) && !set.contains(1_000_000));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![3, 64, 199_998]);
    }
}
