//! Staying under ECS's quotas instead of running into them, and knowing when
//! AWS throttles anyway.
//!
//! ECS throttles per account and region with token buckets; the "service
//! read" calls (`ListServices`, `DescribeServices`) share one of about 50
//! burst and 20 a second. A cluster of 2,000 services takes 20 list and 200
//! describe calls: fired at once they run into the bucket and fail after the
//! SDK's retries. [`Pace`] sends them just under the quota instead; the SDK's
//! adaptive retries absorb what other tools of the same account take from it.
//! Every throttled attempt, whichever client made it, is counted for the status line.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The service-read bucket wharf paces itself to by default: just under the
/// documented 50 burst / 20 a second (two calls of burst kept back for what
/// else the account does). `WHARF_ECS_READS=BURST/RATE` changes it.
pub const DEFAULT_SERVICE_READS: (u32, u32) = (48, 20);

/// Attempts throttled by AWS since the process started.
static THROTTLED: AtomicU64 = AtomicU64::new(0);

/// How many attempts AWS has throttled since wharf started (the SDK retried them).
pub fn throttled() -> u64 {
    THROTTLED.load(Ordering::Relaxed)
}

/// A token bucket that calls wait on before they go out.
#[derive(Debug)]
pub struct Pace {
    limiter: DefaultDirectRateLimiter,
    /// `burst/rate`, for messages.
    pub quota: (u32, u32),
}

impl Pace {
    /// `burst` calls at once, then `rate` a second.
    pub fn new(burst: u32, rate: u32) -> Pace {
        let one = NonZeroU32::MIN;
        let quota = Quota::per_second(NonZeroU32::new(rate).unwrap_or(one))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(one));
        Pace { limiter: RateLimiter::direct(quota), quota: (burst, rate) }
    }

    /// The service-read pace: `WHARF_ECS_READS` (`BURST/RATE`), else the default.
    pub fn service_reads() -> Pace {
        let (burst, rate) = std::env::var("WHARF_ECS_READS")
            .ok()
            .and_then(|v| {
                let (b, r) = v.split_once('/')?;
                Some((b.trim().parse().ok()?, r.trim().parse().ok()?))
            })
            .unwrap_or(DEFAULT_SERVICE_READS);
        Pace::new(burst, rate)
    }

    /// Waits until one more call fits the quota.
    pub async fn ready(&self) {
        self.limiter.until_ready().await;
    }
}

/// Counts the attempts AWS answers with a throttling error.
#[derive(Debug, Default)]
pub struct ThrottleCounter;

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "wharf::ThrottleCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(response) = context.response() {
            let status = response.status().as_u16();
            let kind = response.headers().get("x-amzn-errortype").unwrap_or_default();
            let body = response.body().bytes().unwrap_or_default();
            let said = |word: &[u8]| body.windows(word.len()).any(|w| w == word);
            let throttled = status == 429
                || (status == 503 && said(b"SlowDown"))
                || (status >= 400 && (kind.contains("Throttl") || said(b"ThrottlingException")));
            if throttled {
                THROTTLED.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}
