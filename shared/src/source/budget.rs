//! Request budgets shared by every collector: Graph allows the reports API 5 requests per 10 s
//! per app per tenant and 122 per 10 s per app across all tenants; Identity Protection 1
//! request per second per tenant (<https://learn.microsoft.com/en-us/graph/throttling-limits#identity-and-access-reports-service-limits>). A [`Budget`] is a sliding window; waiters
//! are served in arrival order, so no tenant or category starves another.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Budget {
    requests: usize,
    per: Duration,
    // tokio's Mutex is fair (FIFO), which is what gives every waiter its turn.
    sent: Mutex<VecDeque<Instant>>,
}

impl Budget {
    pub fn new(requests: usize, per: Duration) -> Self {
        Self {
            requests: requests.max(1),
            per,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Reports API, per tenant: 5 requests / 10 s.
    pub fn reports_per_tenant() -> Self {
        Self::new(5, Duration::from_secs(10))
    }

    /// Reports API, per app across tenants: 122 requests / 10 s.
    pub fn reports_per_app() -> Self {
        Self::new(122, Duration::from_secs(10))
    }

    /// Identity Protection, per tenant: 1 request / s.
    pub fn identity_protection_per_tenant() -> Self {
        Self::new(1, Duration::from_secs(1))
    }

    /// Waits until one more request fits in the window, and records it.
    pub async fn acquire(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.per)
            {
                sent.pop_front();
            }
            if sent.len() < self.requests {
                sent.push_back(now);
                return;
            }
            let oldest = *sent.front().expect("the window is full, so not empty");
            tokio::time::sleep_until(oldest + self.per).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_full_window_waits_for_the_oldest_request_to_age_out() {
        let b = Budget::new(5, Duration::from_secs(10));
        let start = Instant::now();
        for _ in 0..5 {
            b.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        b.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        for _ in 0..4 {
            b.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        b.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    }
}
