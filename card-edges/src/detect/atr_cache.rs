//! The PIV and IDMP (GIDS) ATR caches: Winscard remembers the full ATR of a card that answered
//! the PIV or GIDS SELECT, so the next insertion matches without probing (seed 002). Windows
//! keeps them under `Calais\PIV Device ATR Cache` and `Calais\IDMP ATR Cache`; here they
//! live in a file whose location the caller chooses.
//!
//! File format: one entry per line, `piv <ATR hex>` or `gids <ATR hex>`; other lines are
//! ignored so a damaged file degrades to probing, never to a failure.

use std::io;
use std::path::{Path, PathBuf};

use super::CardEdge;

/// The two ATR caches, optionally backed by a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AtrCache {
    path: Option<PathBuf>,
    piv: Vec<Vec<u8>>,
    gids: Vec<Vec<u8>>,
}

impl AtrCache {
    /// An in-memory cache (forgotten when dropped).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads the cache from `path` (a missing file is an empty cache); [`AtrCache::remember`]
    /// writes it back.
    ///
    /// # Errors
    /// I/O errors other than "not found".
    pub fn load(path: impl Into<PathBuf>) -> io::Result<Self> {
        let path = path.into();
        let mut cache = Self { path: Some(path.clone()), ..Self::default() };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(e),
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(kind), Some(atr), None) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            let Ok(atr) = hex::decode(atr) else { continue };
            match kind {
                "piv" => cache.piv.push(atr),
                "gids" => cache.gids.push(atr),
                _ => {}
            }
        }
        Ok(cache)
    }

    /// The edge a cached ATR belongs to (exact, full-ATR match).
    pub fn lookup(&self, atr: &[u8]) -> Option<CardEdge> {
        if self.piv.iter().any(|a| a == atr) {
            Some(CardEdge::Piv)
        } else if self.gids.iter().any(|a| a == atr) {
            Some(CardEdge::Gids)
        } else {
            None
        }
    }

    /// Records `atr` for `edge` and saves the file, if any.
    ///
    /// # Errors
    /// I/O errors while saving; the in-memory cache is updated regardless.
    pub fn remember(&mut self, edge: CardEdge, atr: &[u8]) -> io::Result<()> {
        let list = match edge {
            CardEdge::Piv => &mut self.piv,
            CardEdge::Gids => &mut self.gids,
        };
        if !list.iter().any(|a| a == atr) {
            list.push(atr.to_vec());
        }
        match &self.path {
            Some(p) => self.save(p),
            None => Ok(()),
        }
    }

    /// The file backing this cache.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn save(&self, path: &Path) -> io::Result<()> {
        let mut text = String::new();
        for (kind, list) in [("piv", &self.piv), ("gids", &self.gids)] {
            for atr in list {
                text.push_str(kind);
                text.push(' ');
                text.push_str(&hex::encode_upper(atr));
                text.push('\n');
            }
        }
        // Write then rename: a crash never leaves half a cache behind.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_across_loads() {
        let dir = std::env::temp_dir().join(format!("atr-cache-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache");
        let _ = std::fs::remove_file(&path);
        let mut cache = AtrCache::load(&path).unwrap();
        assert_eq!(cache.lookup(&[0x3B, 0x00]), None);
        cache.remember(CardEdge::Piv, &[0x3B, 0x00]).unwrap();
        cache.remember(CardEdge::Gids, &[0x3B, 0x01, 0x80]).unwrap();
        let again = AtrCache::load(&path).unwrap();
        assert_eq!(again.lookup(&[0x3B, 0x00]), Some(CardEdge::Piv));
        assert_eq!(again.lookup(&[0x3B, 0x01, 0x80]), Some(CardEdge::Gids));
        std::fs::write(&path, "garbage\npiv zz\npiv 3B00\n").unwrap();
        assert_eq!(AtrCache::load(&path).unwrap().lookup(&[0x3B, 0x00]), Some(CardEdge::Piv));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
