//! Training several independent runs at once (`--jobs`): each on its own
//! thread, taking the next run of the plan in turn, the results kept in
//! plan order so the table, the files and the numbers are those of a
//! sequential run. The default is half the cores: one run per core measured
//! fastest, but two runs at once peak at 78-86 MB on data/mnist, over
//! target 5's 80 MB (docs/sweeps.md).
//!
//! After the first failure no new run starts; the runs already going
//! finish (each ends its event file complete), and the first failure in
//! plan order is returned.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Result;

/// Stack of a job's thread: that of the main thread, which one run at a
/// time has always used.
const STACK_BYTES: usize = 8 << 20;

/// `work` over every item of `items`, `jobs` at a time; the results in
/// the items' order, or the first error in that order.
pub fn run_all<I: Sync, T: Send>(
    items: &[I],
    jobs: usize,
    work: impl Fn(&I) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let jobs = jobs.clamp(1, items.len().max(1));
    if jobs == 1 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<T>>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| -> Result<()> {
        let worker = || {
            while !failed.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = work(item);
                if result.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            }
        };
        let mut threads = Vec::new();
        for j in 0..jobs {
            let thread = std::thread::Builder::new()
                .name(format!("job-{j}"))
                .stack_size(STACK_BYTES)
                .spawn_scoped(scope, worker)?;
            threads.push(thread);
        }
        for thread in threads {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Ok(())
    })?;
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    // Runs not started after a failure are `None`; the failure comes first.
    let mut out = Vec::with_capacity(items.len());
    let mut first_error = None;
    for result in results.into_iter().flatten() {
        match result {
            Ok(value) => out.push(value),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_in_order_whatever_the_jobs() {
        let items: Vec<u64> = (0..20).collect();
        for jobs in [1, 2, 7, 50] {
            let out = run_all(&items, jobs, |&i| Ok(i * i)).unwrap();
            assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_first_failure_in_order_is_returned() {
        let items: Vec<u64> = (0..10).collect();
        for jobs in [1, 3] {
            let err = run_all(&items, jobs, |&i| {
                if i >= 4 {
                    anyhow::bail!("item {i}")
                }
                Ok(i)
            })
            .unwrap_err();
            assert_eq!(err.to_string(), "item 4");
        }
    }
}
