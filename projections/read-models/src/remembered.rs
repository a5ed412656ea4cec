//! A projector's memory of the views it wrote: [`Remembered`] wraps the projector's
//! [`ViewStore`] so that the next run of a stream it has just projected starts from the view it
//! wrote, instead of reading the row back.
//!
//! Why it is safe: a view is a pure fold of its stream's prefix, so a remembered view of
//! version `v` is exactly what the store held once it took that write. The store may have moved
//! on since (another projector, a redelivery handled elsewhere), and the projection step already
//! copes with a view that is behind, because at-least-once delivery hands it one anyway:
//! - the next record (`v + 1`) applies, and the version-guarded put refuses it if the store is
//!   ahead (`Stale`), which forgets the memory so the next run reads the row;
//! - a record past a gap refolds from the log after `v`;
//! - a record already folded in is skipped.
//!
//! Only the views this process wrote (or read) are remembered, never a view it merely
//! attempted, and only the projection step reads through it: [`ViewStore::get`] here may answer
//! a view older than the row, which the step tolerates and a query (GET /orders/{id}) must not
//! see, so the query side keeps its own store.
//!
//! Memory is bounded: two generations of at most `capacity` views each; when the current one
//! fills, it becomes the previous and the oldest is dropped whole.

use std::sync::{Arc, Mutex, PoisonError};

use order_domain::ports::PortError;

use crate::advance::{ViewStore, ViewWrite};
use crate::view::View;

/// How many views a [`Remembered`] store keeps in each of its two generations by default: a
/// few seconds of a busy stream's orders, and every product of a catalogue this size.
pub const REMEMBERED_VIEWS: usize = 4096;

/// A projector's [`ViewStore`] that remembers the views it wrote (see the module docs).
#[derive(Debug)]
pub struct Remembered<S, V> {
    inner: S,
    memory: Arc<ViewMemory<V>>,
}

impl<S: Clone, V> Clone for Remembered<S, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            memory: self.memory.clone(),
        }
    }
}

/// The memory itself, for a host that drives the projection step without the [`ViewStore`]
/// port (the embedded one folds a batch on a reader connection and writes the views in its
/// writer's job): the views a projector wrote, by row key, bounded to two generations.
///
/// The rules are [`Remembered`]'s: remember a view only once its write landed, forget the key
/// when a write was refused or failed, and read through it only in the projection step.
#[derive(Debug)]
pub struct ViewMemory<V> {
    generations: Mutex<Generations<V>>,
}

impl<V: View> Default for ViewMemory<V> {
    fn default() -> Self {
        Self::with_capacity(REMEMBERED_VIEWS)
    }
}

impl<V: View> ViewMemory<V> {
    /// A memory of up to `2 × capacity` views (`capacity` at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            generations: Mutex::new(Generations {
                current: foldhash::HashMap::default(),
                previous: foldhash::HashMap::default(),
                capacity: capacity.max(1),
            }),
        }
    }

    /// A copy of the view remembered under `key`.
    pub fn get(&self, key: &str) -> Option<V> {
        self.lock().find(key).cloned()
    }

    /// The view remembered under `key`, taken out: a step that will write the view it makes
    /// of it needs no copy, and gives it back with [`ViewMemory::remember`] once written (a
    /// failed write leaves the key forgotten, as it should).
    pub fn take(&self, key: &str) -> Option<V> {
        let mut memory = self.lock();
        memory
            .current
            .remove(key)
            .or_else(|| memory.previous.remove(key))
    }

    /// Remembers `view`, written, unless a newer version of its row is remembered already
    /// (two runs of one stream finishing out of order never move it back).
    pub fn remember(&self, view: V) {
        self.lock().remember(view);
    }

    /// Forgets `key`: the next step reads the row.
    pub fn forget(&self, key: &str) {
        let mut memory = self.lock();
        memory.current.remove(key);
        memory.previous.remove(key);
    }

    /// How many views are remembered now.
    pub fn len(&self) -> usize {
        let memory = self.lock();
        memory.current.len() + memory.previous.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<V>> {
        // The maps stay consistent whatever panicked while they were held (each change is one
        // insert or remove), so a poisoned lock is used as it is.
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct Generations<V> {
    // foldhash: keyed by the server's own ids (orders, catalogue products).
    current: foldhash::HashMap<String, V>,
    previous: foldhash::HashMap<String, V>,
    capacity: usize,
}

impl<V: View> Generations<V> {
    fn find(&self, key: &str) -> Option<&V> {
        self.current.get(key).or_else(|| self.previous.get(key))
    }

    fn remember(&mut self, view: V) {
        let key = view.row_key();
        if self
            .find(&key)
            .is_some_and(|known| known.version() >= view.version())
        {
            return;
        }
        if self.current.len() >= self.capacity && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.previous.remove(&key);
        self.current.insert(key, view);
    }
}

impl<S, V: View> Remembered<S, V> {
    /// `inner`, remembering up to `2 × REMEMBERED_VIEWS` views.
    pub fn new(inner: S) -> Self {
        Self::with_capacity(inner, REMEMBERED_VIEWS)
    }

    /// `inner`, remembering up to `2 × capacity` views (`capacity` at least 1).
    pub fn with_capacity(inner: S, capacity: usize) -> Self {
        Self {
            inner,
            memory: Arc::new(ViewMemory::with_capacity(capacity)),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many views are remembered now.
    pub fn remembered(&self) -> usize {
        self.memory.len()
    }
}

impl<S: ViewStore<V>, V: View> ViewStore<V> for Remembered<S, V> {
    /// The remembered view under `key`, else the stored one (then remembered). The answer may
    /// be older than the row: only the projection step reads through here.
    async fn get(&self, key: &str) -> Result<Option<V>, PortError> {
        if let Some(view) = self.memory.get(key) {
            return Ok(Some(view));
        }
        let stored = self.inner.get(key).await?;
        if let Some(view) = &stored {
            self.memory.remember(view.clone());
        }
        Ok(stored)
    }

    /// Writes through; a written view is remembered, and a refused one (the row was ahead) or
    /// a failed write forgets the key, so the next run reads the row.
    async fn put(&self, view: &V) -> Result<ViewWrite, PortError> {
        let written = self.inner.put(view).await;
        match &written {
            Ok(ViewWrite::Written) => self.memory.remember(view.clone()),
            Ok(ViewWrite::Stale) | Err(_) => self.memory.forget(&view.row_key()),
        }
        written
    }
}

#[cfg(test)]
mod tests;
