//! Scoring image embeddings against label rows.
#![deny(missing_docs)]
