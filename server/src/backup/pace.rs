//! The pace of a base backup's uploads: at most `backup.max_upload_rate` stored bytes per
//! second, so a backup leaves the network to clients and followers.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Admits upload bytes at a configured rate (a burst of one second's worth); unlimited
/// without one.
pub struct Pace {
    limiter: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

impl Pace {
    /// A pace of `bytes_per_second` (clamped to 1..=`u32::MAX`); `None`: no limit.
    pub fn new(bytes_per_second: Option<u64>) -> Pace {
        let limiter = bytes_per_second.map(|rate| {
            let rate = NonZeroU32::new(u32::try_from(rate).unwrap_or(u32::MAX).max(1))
                .unwrap_or(NonZeroU32::MIN);
            (RateLimiter::direct(Quota::per_second(rate)), rate)
        });
        Pace { limiter }
    }

    /// Waits until `bytes` more may be uploaded.
    pub async fn admit(&self, bytes: u64) {
        let Some((limiter, burst)) = &self.limiter else {
            return;
        };
        let mut left = bytes;
        while left > 0 {
            let step = left.min(u64::from(burst.get()));
            left -= step;
            let cells = u32::try_from(step)
                .ok()
                .and_then(NonZeroU32::new)
                .unwrap_or(*burst);
            // `cells` never exceeds the burst, the only way this can fail.
            if limiter.until_n_ready(cells).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::Pace;

    #[tokio::test]
    async fn unlimited_admits_at_once() {
        let pace = Pace::new(None);
        let start = Instant::now();
        pace.admit(u64::MAX).await;
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn admits_no_more_than_the_rate_after_the_first_second() {
        // 64 KiB/s: the first 64 KiB pass at once, the next 128 KiB take two seconds.
        let pace = Pace::new(Some(64 << 10));
        let start = Instant::now();
        pace.admit(192 << 10).await;
        assert!(
            start.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            start.elapsed()
        );
    }
}
