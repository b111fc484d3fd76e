//! The per-call evaluation limit: rules are evaluated on the blocking pool, and a call whose
//! evaluation takes longer than `limits.max_evaluation_ms` is answered 503 with `Retry-After`
//! (the evaluation itself runs to its end — scripts have their own operation limits — but the
//! client is not kept waiting, and the concurrency limit bounds how many run at once).

use std::time::Duration;

use crate::outcome::ApiError;

/// Runs `work` on the blocking pool within `limit`.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// let n = cds_server::limits::evaluation(Duration::from_secs(1), || Ok(2 + 2)).await;
/// assert_eq!(n.unwrap(), 4);
/// # });
/// ```
pub async fn evaluation<T: Send + 'static>(
    limit: Duration,
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(ApiError::internal("the evaluation failed")),
        Err(_) => Err(ApiError::unavailable(
            format!(
                "the evaluation took longer than the server allows ({} ms)",
                limit.as_millis()
            ),
            1,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_evaluations_are_503() {
        let e = evaluation(Duration::from_millis(20), || {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
        .await
        .unwrap_err();
        assert_eq!(e.status.as_u16(), 503);
        assert_eq!(e.retry_after, Some(1));
        assert!(e.problems[0].message.contains("20 ms"));
    }

    #[tokio::test]
    async fn errors_pass_through() {
        let e = evaluation::<()>(Duration::from_secs(1), || {
            Err(ApiError::invalid_at("context", "bad"))
        })
        .await
        .unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
}
