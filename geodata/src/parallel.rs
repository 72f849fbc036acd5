//! Work spread over threads of its own, outside rayon's pool: for what is
//! computed once inside a `OnceLock` initializer.
//!
//! A `OnceLock` makes every other caller wait while one initializes it. If
//! the initializer handed its work to rayon's pool, and the pool's threads
//! were themselves the callers waiting on that `OnceLock` (a gap analysis
//! asking for the trees from its `par_iter`), nobody would ever run the
//! work: a deadlock. Seen on two cores, a server's first analysis waiting
//! for the trees its own start was building. Threads of a
//! [`std::thread::scope`] never wait on the `OnceLock`, so the work always
//! runs.

/// `f` applied to every item, in order, on as many threads of its own as
/// there are cores (never on rayon's pool); a panic in `f` is raised again
/// here.
///
/// ```
/// let squares = geodata::parallel::map_on_own_threads((1..=5).collect(), |n: u32| n * n);
/// assert_eq!(squares, vec![1, 4, 9, 16, 25]);
/// ```
pub fn map_on_own_threads<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = cores.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut rest = items.into_iter();
    loop {
        let chunk: Vec<T> = rest.by_ref().take(per_thread).collect();
        if chunk.is_empty() {
            break;
        }
        chunks.push(chunk);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let running: Vec<_> = chunks
            .into_iter()
            .map(|chunk| scope.spawn(move || chunk.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        running
            .into_iter()
            .flat_map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}
