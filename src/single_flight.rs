//! Concurrent misses of one key share one lookup: the first caller runs it, the others
//! wait for its answer (an error included) instead of each asking DynamoDB. Only while it
//! is in flight: the next caller after it finishes starts a new one (or finds the cache).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

#[derive(Debug)]
pub struct SingleFlight<V> {
    flights: Mutex<HashMap<String, Arc<OnceCell<V>>>>,
}

impl<V> Default for SingleFlight<V> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> SingleFlight<V> {
    /// The answer of the lookup in flight for `key`, or of `lookup`, which runs only when
    /// none is. `lookup` should store its answer where the next caller looks first (the
    /// cache): it is forgotten here once this flight lands.
    pub async fn run(&self, key: &str, lookup: impl Future<Output = V>) -> V {
        let cell = self
            .flights
            .lock()
            .ok()
            .map(|mut flights| Arc::clone(flights.entry(key.to_owned()).or_default()));
        // A poisoned map (a panic while it was held): every caller reads for itself.
        let Some(cell) = cell else {
            return lookup.await;
        };
        // A caller whose lookup is dropped mid-way (cancelled) hands over to a waiter.
        let value = cell.get_or_init(|| lookup).await.clone();
        if let Ok(mut flights) = self.flights.lock()
            && flights.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell))
        {
            flights.remove(key);
        }
        value
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.flights.lock().map(|f| f.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A lookup that counts its runs and answers after the others have joined.
    async fn counted(runs: &AtomicUsize, gate: &tokio::sync::Notify, answer: u32) -> u32 {
        runs.fetch_add(1, Ordering::SeqCst);
        gate.notified().await;
        answer
    }

    #[test]
    fn concurrent_callers_of_one_key_share_one_lookup_and_its_answer() {
        let flights = SingleFlight::<u32>::default();
        let runs = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let answers = block_on(async {
            let callers = (0..8).map(|i| flights.run("k", counted(&runs, &gate, i)));
            let all = futures_join(callers.collect());
            let open = async {
                tokio::task::yield_now().await;
                gate.notify_waiters();
            };
            tokio::join!(all, open).0
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            answers,
            vec![0; 8],
            "every caller gets the one lookup's answer"
        );
        assert_eq!(flights.in_flight(), 0, "a landed flight is forgotten");
    }

    #[test]
    fn other_keys_and_later_callers_run_their_own_lookup() {
        let flights = SingleFlight::<u32>::default();
        let runs = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let answers = block_on(async {
            let a = flights.run("a", counted(&runs, &gate, 1));
            let b = flights.run("b", counted(&runs, &gate, 2));
            let open = async {
                tokio::task::yield_now().await;
                gate.notify_waiters();
            };
            let (a, b, ()) = tokio::join!(a, b, open);
            let later = flights.run("a", async { 3 }).await;
            vec![a, b, later]
        });
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(answers, vec![1, 2, 3]);
    }

    /// Polls every future to completion on this task (no extra dependency).
    async fn futures_join<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
                if slot.is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => *slot = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter().flatten().collect()
    }
}
