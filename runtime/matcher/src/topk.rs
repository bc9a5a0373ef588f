//! Selecting the `K` best scores in one pass with a fixed-capacity heap.
//!
//! The heap holds the best `K` seen so far with the worst of them at the root, so
//! each further score costs one comparison with the root (almost always "no" once
//! the heap is warm) and, rarely, an `O(log K)` replacement: `O(n log K)` worst case,
//! no allocation, nothing sorted but the final `K`. [`top_k_into`] is the same heap
//! for a `k` known only at run time, in a buffer the caller keeps between calls.

use core::cmp::Ordering;

/// One selected score and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Index of the score in the input.
    pub index: usize,
    /// The score.
    pub score: f32,
}

/// The ranking used everywhere in this crate: higher score first, equal scores by
/// lower index, NaN after every number (so a broken row never displaces a real match).
#[inline(always)]
pub fn better(a: Scored, b: Scored) -> bool {
    if a.score > b.score {
        true
    } else if a.score < b.score {
        false
    } else if a.score == b.score {
        a.index < b.index
    } else {
        match (a.score.is_nan(), b.score.is_nan()) {
            (false, true) => true,
            (true, false) => false,
            _ => a.index < b.index,
        }
    }
}

/// [`better`] as an [`Ordering`] for sorting best first.
pub fn rank(a: &Scored, b: &Scored) -> Ordering {
    if better(*a, *b) {
        Ordering::Less
    } else if better(*b, *a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Accumulates the `K` best [`Scored`] values pushed into it.
#[derive(Debug, Clone, Default)]
pub struct TopK<const K: usize> {
    heap: heapless::Vec<Scored, K>,
}

impl<const K: usize> TopK<K> {
    /// An empty selection.
    pub fn new() -> Self {
        Self {
            heap: heapless::Vec::new(),
        }
    }

    /// Offers one candidate; kept if it ranks among the best `K` so far.
    #[inline]
    pub fn push(&mut self, candidate: Scored) {
        if self.heap.len() < K {
            // Cannot fail: there is room.
            let _ = self.heap.push(candidate);
            let last = self.heap.len() - 1;
            sift_up(&mut self.heap, last);
        } else if K > 0 && better(candidate, self.heap[0]) {
            self.heap[0] = candidate;
            sift_down(&mut self.heap, 0);
        }
    }

    /// The selection, best first.
    pub fn into_sorted(self) -> heapless::Vec<Scored, K> {
        let mut heap = self.heap;
        heap.sort_unstable_by(rank);
        heap
    }
}

/// Restores the heap order (worst at the root) after `heap[i]` was appended.
fn sift_up(heap: &mut [Scored], mut i: usize) {
    while i > 0 {
        let parent = (i - 1) / 2;
        if !better(heap[parent], heap[i]) {
            break;
        }
        heap.swap(parent, i);
        i = parent;
    }
}

/// Restores the heap order (worst at the root) after `heap[i]` was replaced.
fn sift_down(heap: &mut [Scored], mut i: usize) {
    let n = heap.len();
    loop {
        let (l, r) = (2 * i + 1, 2 * i + 2);
        let mut worst = i;
        if l < n && better(heap[worst], heap[l]) {
            worst = l;
        }
        if r < n && better(heap[worst], heap[r]) {
            worst = r;
        }
        if worst == i {
            break;
        }
        heap.swap(i, worst);
        i = worst;
    }
}

/// The `K` best of `scores`, best first, ties by lower index.
pub fn top_k<const K: usize>(scores: &[f32]) -> heapless::Vec<Scored, K> {
    let mut top = TopK::<K>::new();
    for (index, &score) in scores.iter().enumerate() {
        top.push(Scored { index, score });
    }
    top.into_sorted()
}

/// The `k` best of `scores` into `out`, best first, ties by lower index: [`top_k`]
/// with `k` chosen at run time (a request's `top_k`) and the caller's buffer.
///
/// `out` is cleared first and holds at most `k` values after; once its capacity
/// reaches `k` (reserve it once, keep the buffer) a call allocates nothing. The
/// same bounded heap as [`TopK`]: `O(n log k)` worst case, one comparison per score
/// once the heap is warm, and only the final `k` are sorted.
pub fn top_k_into(scores: &[f32], k: usize, out: &mut Vec<Scored>) {
    out.clear();
    if k == 0 {
        return;
    }
    for (index, &score) in scores.iter().enumerate() {
        let candidate = Scored { index, score };
        if out.len() < k {
            out.push(candidate);
            let last = out.len() - 1;
            sift_up(out, last);
        } else if better(candidate, out[0]) {
            out[0] = candidate;
            sift_down(out, 0);
        }
    }
    out.sort_unstable_by(rank);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full_sort(scores: &[f32], k: usize) -> Vec<Scored> {
        let mut all: Vec<Scored> = scores
            .iter()
            .enumerate()
            .map(|(index, &score)| Scored { index, score })
            .collect();
        all.sort_by(rank);
        all.truncate(k);
        all
    }

    fn same(a: &[Scored], b: &[Scored]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.index == y.index && x.score.to_bits() == y.score.to_bits())
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let top = top_k::<3>(&[1.0, 2.0, 2.0, 0.5, 2.0]);
        let idx: Vec<usize> = top.iter().map(|s| s.index).collect();
        assert_eq!(idx, [1, 2, 4]);
    }

    #[test]
    fn nan_ranks_last() {
        let top = top_k::<2>(&[f32::NAN, -1.0, f32::NAN]);
        assert_eq!(top[0].index, 1);
        assert_eq!(top[1].index, 0);
    }

    #[test]
    fn zero_capacity_and_empty_input() {
        assert!(top_k::<0>(&[1.0, 2.0]).is_empty());
        assert!(top_k::<4>(&[]).is_empty());
        assert_eq!(top_k::<4>(&[3.0]).len(), 1);
    }

    fn into(scores: &[f32], k: usize) -> Vec<Scored> {
        let mut out = Vec::new();
        top_k_into(scores, k, &mut out);
        out
    }

    #[test]
    fn top_k_into_ranks_like_top_k() {
        let v = [1.0, 2.0, 2.0, f32::NAN, 0.5, 2.0, -1.0];
        let idx: Vec<usize> = into(&v, 4).iter().map(|s| s.index).collect();
        assert_eq!(idx, [1, 2, 5, 0]);
        // NaN after every number, however many are asked for.
        assert_eq!(into(&v, 100).last().map(|s| s.index), Some(3));
        assert!(into(&v, 0).is_empty());
        assert!(into(&[], 3).is_empty());
    }

    #[test]
    fn top_k_into_clears_and_reuses_its_buffer() {
        let mut out = Vec::with_capacity(3);
        top_k_into(&[5.0, 1.0, 4.0, 3.0], 3, &mut out);
        let capacity = out.capacity();
        top_k_into(&[0.0, 9.0], 3, &mut out);
        assert_eq!(out.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 0]);
        assert_eq!(out.capacity(), capacity);
    }

    proptest! {
        #[test]
        fn top_k_into_equals_full_sort(
            v in proptest::collection::vec(-50f32..50.0, 0..300),
            k in 0usize..320,
        ) {
            prop_assert!(same(&into(&v, k), &full_sort(&v, k)));
        }

        /// Few distinct values and NaN among them: ties and the NaN rule at once.
        #[test]
        fn top_k_into_equals_full_sort_with_ties_and_nan(
            v in proptest::collection::vec(0u8..5, 0..200),
            k in 0usize..64,
        ) {
            let v: Vec<f32> = v.into_iter().map(|x| if x == 4 { f32::NAN } else { f32::from(x) }).collect();
            prop_assert!(same(&into(&v, k), &full_sort(&v, k)));
        }

        #[test]
        fn equals_full_sort(v in proptest::collection::vec(-50f32..50.0, 0..300)) {
            prop_assert!(same(&top_k::<1>(&v), &full_sort(&v, 1)));
            prop_assert!(same(&top_k::<5>(&v), &full_sort(&v, 5)));
            prop_assert!(same(&top_k::<17>(&v), &full_sort(&v, 17)));
        }

        /// Few distinct values: most comparisons are ties.
        #[test]
        fn equals_full_sort_with_ties(v in proptest::collection::vec(0u8..4, 0..200)) {
            let v: Vec<f32> = v.into_iter().map(f32::from).collect();
            prop_assert!(same(&top_k::<5>(&v), &full_sort(&v, 5)));
            prop_assert!(same(&top_k::<64>(&v), &full_sort(&v, 64)));
        }
    }
}
