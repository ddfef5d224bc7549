//! Puts a turn's woken task ids in order, once each: the executor polls
//! tasks in id order, and a task woken several times is polled once.
//!
//! A busy turn wakes dozens of tasks (each HTTP/2 stream is one), and a
//! comparison sort of their ids costs more than the polls' bookkeeping.
//! Task ids are slab keys, so they are dense: a bitmap over the range the
//! ids span sorts and dedups them in one pass each way. A few ids, or ids
//! spread too thinly for a bitmap to pay, are sorted as before.

/// Fewer ids than this are sorted.
const SORT_BELOW: usize = 24;

/// The bitmap is used while it has at most this many words per id.
const WORDS_PER_ID: usize = 2;

/// Sorts `ids` and removes repeats, using `bits` as scratch space.
pub(crate) fn order(ids: &mut Vec<usize>, bits: &mut Vec<u64>) {
    let (Some(&first), true) = (ids.first(), ids.len() >= SORT_BELOW) else {
        return sort(ids);
    };
    let (low, high) = ids.iter().fold((first, first), |(low, high), &id| {
        (low.min(id), high.max(id))
    });
    let words = (high - low) / 64 + 1;
    if words > ids.len() * WORDS_PER_ID {
        return sort(ids);
    }
    bits.clear();
    bits.resize(words, 0);
    for &id in ids.iter() {
        let offset = id - low;
        bits[offset / 64] |= 1 << (offset % 64);
    }
    ids.clear();
    for (index, &word) in bits.iter().enumerate() {
        let mut word = word;
        while word != 0 {
            ids.push(low + index * 64 + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
}

fn sort(ids: &mut Vec<usize>) {
    ids.sort_unstable();
    ids.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sorted(ids: &[usize]) -> Vec<usize> {
        let mut expected = ids.to_vec();
        expected.sort_unstable();
        expected.dedup();
        expected
    }

    #[test]
    fn dense_ids_with_repeats_come_out_sorted_once_each() {
        let mut ids: Vec<usize> = (0..200)
            .rev()
            .chain(50..120)
            .chain([199, 0, 63, 64])
            .collect();
        let expected = sorted(&ids);
        order(&mut ids, &mut Vec::new());
        assert_eq!(ids, expected);
    }

    #[test]
    fn sparse_ids_far_apart_are_sorted_without_a_huge_bitmap() {
        let mut ids: Vec<usize> = (0..30).map(|i| i * 1_000_003).rev().collect();
        let expected = sorted(&ids);
        let mut bits = Vec::new();
        order(&mut ids, &mut bits);
        assert_eq!(ids, expected);
        assert!(bits.is_empty(), "{} words", bits.len());
    }

    proptest! {
        #[test]
        fn any_ids_come_out_as_sort_and_dedup_would_give(
            ids in prop::collection::vec(0usize..5_000, 0..300),
            base in 0usize..1_000_000,
        ) {
            let mut ids: Vec<usize> = ids.into_iter().map(|id| id + base).collect();
            let expected = sorted(&ids);
            let mut bits = vec![u64::MAX; 3];
            order(&mut ids, &mut bits);
            prop_assert_eq!(ids, expected);
        }
    }
}
