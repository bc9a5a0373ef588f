//! Editing an existing store: its encoded rows are carried over bit for bit, so
//! repeated edits never re-quantize (and never drift).

use std::collections::HashSet;

use half::f16;

use crate::sections::MetaEntry;
use crate::write::Encoded;
use crate::{Rows, Store, StoreBuilder, StoreError};

impl StoreBuilder {
    /// A builder holding a copy of `store`'s labels, metadata, fingerprint and
    /// encoded rows; add or remove labels, then [`StoreBuilder::write_atomic`].
    pub fn from_store(store: &Store) -> StoreBuilder {
        let rows = match store.rows() {
            Rows::F32(v) => Encoded::F32(v.to_vec()),
            Rows::F16(v) => Encoded::F16(v.to_vec()),
            Rows::Int8 { values, scales } => Encoded::Int8 {
                values: values.to_vec(),
                scales: scales.to_vec(),
            },
        };
        let labels: Vec<String> = store.labels().map(str::to_owned).collect();
        let meta = (0..store.len())
            .map(|i| {
                let m = store.meta(i);
                MetaEntry {
                    group: m.group.map(Into::into),
                    threshold: m.threshold,
                }
            })
            .collect();
        StoreBuilder {
            dtype: store.dtype(),
            dim: store.dim(),
            fingerprint: store.fingerprint().clone(),
            index: labels.iter().cloned().collect::<HashSet<_>>(),
            labels,
            meta,
            rows,
        }
    }

    /// True if `label` is in the builder.
    pub fn contains(&self, label: &str) -> bool {
        self.index.contains(label)
    }

    /// Removes `label` and its row; fails with [`StoreError::UnknownLabel`] naming it if absent.
    pub fn remove(&mut self, label: &str) -> Result<(), StoreError> {
        let Some(i) = self.labels.iter().position(|l| l == label) else {
            return Err(StoreError::UnknownLabel {
                label: label.into(),
            });
        };
        let span = i * self.dim..(i + 1) * self.dim;
        match &mut self.rows {
            Encoded::F32(v) => drop(v.drain(span)),
            Encoded::F16(v) => drop(v.drain(span)),
            Encoded::Int8 { values, scales } => {
                values.drain(span);
                scales.remove(i);
            }
        }
        self.labels.remove(i);
        self.meta.remove(i);
        self.index.remove(label);
        Ok(())
    }

    /// Row `i` decoded to f32 (int8 rows multiplied by their scale). Panics if `i >= len()`.
    pub fn row_f32(&self, i: usize) -> Vec<f32> {
        let span = i * self.dim..(i + 1) * self.dim;
        match &self.rows {
            Encoded::F32(v) => v[span].to_vec(),
            Encoded::F16(v) => v[span].iter().map(|x| f16::to_f32(*x)).collect(),
            Encoded::Int8 { values, scales } => values[span]
                .iter()
                .map(|&q| f32::from(q) * scales[i])
                .collect(),
        }
    }
}
