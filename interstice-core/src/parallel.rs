//! Running two pieces of work at once, for bulk loads that have a second
//! core to use: the first on a scoped thread, the second on the caller's.
//! When no thread can be started they run one after the other, so a
//! process at its thread limit is slower, never wrong.

use std::sync::Mutex;

/// Runs `a` and `b`, `a` on another thread when one can be started;
/// returns both results. A panic in either is resumed on the caller.
pub(crate) fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    RA: Send,
    B: FnOnce() -> RB,
{
    // `a` waits in the slot, so that it is still here to run when the
    // thread could not be started.
    let slot = Mutex::new(Some(a));
    let take = || slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new().spawn_scoped(s, || take().map(|a| a()));
        let rb = b();
        let ra = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        };
        let ra = ra.unwrap_or_else(|| take().expect("`a` ran nowhere else")());
        (ra, rb)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_run_and_both_results_come_back() {
        let (a, b) = join(|| (0..1000u64).sum::<u64>(), || "b".repeat(3));
        assert_eq!((a, b.as_str()), (499_500, "bbb"));
    }

    #[test]
    fn the_first_may_borrow_what_the_second_does_not_touch() {
        let mut left = vec![3, 1, 2];
        let right = [9, 8];
        let ((), m) = join(|| left.sort(), || right.iter().max().copied());
        assert_eq!((left, m), (vec![1, 2, 3], Some(9)));
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_on_the_other_thread_reaches_the_caller() {
        join(|| panic!("boom"), || 1);
    }
}
