//! [`build_runtime`]: the tokio runtime a pipeline runs on.

/// Builds the runtime to run a pipeline on: `threads` worker threads (`None`: one per CPU,
/// tokio's default) named `neuropipe`, with the I/O and time drivers that stages' timers,
/// devices and sockets need.
///
/// One worker thread is the cheapest layout for a paced pipeline (a source in real time and
/// light processing): each packet then goes through the whole chain on one thread, every
/// hand-off a local wake-up, and the process wakes once per packet. More threads let
/// independent stages run in parallel, for pipelines that replay files as fast as they can or
/// need more than one core. Set it with a pipeline's `"threads"` or `neuropipe run --threads`.
///
/// # Errors
/// If the operating system refuses the threads or the I/O driver.
///
/// # Panics
/// If `threads` is `Some(0)`.
pub fn build_runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        b.worker_threads(n);
    }
    b.enable_all().thread_name("neuropipe").build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_has_the_threads_asked_for_and_its_drivers() {
        for n in [1, 3] {
            let rt = build_runtime(Some(n)).unwrap();
            assert_eq!(rt.metrics().num_workers(), n);
            // The time and I/O drivers are there (either would panic without them).
            rt.block_on(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                #[cfg(unix)]
                drop(tokio::net::UnixDatagram::unbound().unwrap());
            });
        }
    }
}
