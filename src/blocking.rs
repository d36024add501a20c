//! Blocking work (subprocesses such as `kustomize build` and `helm template`, file trees,
//! CPU-heavy decoding) run off the async workers, so that one target's render does not
//! stall the watches and requests of the others.

/// Runs `work` on tokio's blocking pool and waits for it; a panic in `work` is resumed
/// here, as if it had run inline.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Blocking tasks are only cancelled when the runtime shuts down, and then
            // nothing is left to await them.
            Err(e) => unreachable!("blocking work cancelled: {e}"),
        },
    }
}
