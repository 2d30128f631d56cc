//! The delivery state machine (SPEC §6 table), pure: the result of one attempt in, the
//! record's next state out. I/O lives in `attempt.rs`.
//!
//! Total: no attempt result, policy, jitter or clock value can make it panic (UC's answers
//! feed it, and in release a panic aborts the process with every in-flight invocation).
//! Delays are bounded and time arithmetic saturates.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::record::{DeliveryRecord, DeliveryState};
pub use super::status::BlockSource;
use crate::uc::client::MAX_RETRY_AFTER;

/// No delay or lease this module computes exceeds this, whatever the policy says: a record
/// scheduled further out is a bug or a hostile value, not a plan.
pub const MAX_SCHEDULE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What one attempt established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// UC accepted the POST (2xx).
    Accepted { status: u16, body: String },
    /// UC already had it (GET 200 after an ambiguous attempt, or 409 confirmed by GET).
    AlreadyThere,
    /// Any other 4xx: the payload or its references are wrong; an operator must act.
    Rejected { status: u16, body: String },
    /// 429, 5xx, timeout, network. `ambiguous`: UC may have stored it, so GET before re-POST.
    Retry {
        ambiguous: bool,
        retry_after: Option<Duration>,
        status: Option<u16>,
        error: String,
    },
    /// The tenant's credential does not work (Entra 400/401, or UC 401 twice with a fresh token).
    AuthBlocked { error: String, source: BlockSource },
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    /// How long a claimed attempt may take before another instance may take over.
    pub lease: Duration,
    /// How soon a delivery waiting for a blocked tenant's credential is looked at again.
    pub auth_probe: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
            lease: Duration::from_secs(120),
            // Due at once: the timer skips it while the tenant is blocked, and drains it
            // (in creation order) in the sweep whose probe finds the credential working.
            auth_probe: Duration::ZERO,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with jitter (half fixed, half random) so that a UC outage does
    /// not end in every instance retrying in the same second; Retry-After is a floor, itself
    /// at most [`MAX_RETRY_AFTER`] (SPEC §6). Never more than `max` + an hour, nor more than
    /// [`MAX_SCHEDULE`]; `jitter` outside 0..=1 (or NaN) is clamped.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(
                1u32.checked_shl(attempts.saturating_sub(1).min(20))
                    .unwrap_or(u32::MAX),
            )
            .min(self.max)
            .min(MAX_SCHEDULE);
        let jitter = if jitter.is_nan() {
            1.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        // Bounded above by `exp` (≤ a week), so the float product is exact enough and finite.
        let jittered = Duration::try_from_secs_f64(exp.as_secs_f64() * (0.5 + 0.5 * jitter))
            .map_or(exp, |d| d.min(exp));
        match retry_after {
            Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
            None => jittered,
        }
    }
}

/// `now + d`, saturating: `d` is capped at [`MAX_SCHEDULE`], and a sum past the calendar's
/// end is its last instant.
pub fn later(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d.min(MAX_SCHEDULE))
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Applies an attempt's result. `posted`: whether this attempt sent a POST at all (if it did
/// not, an earlier in-flight POST is still unresolved and stays so).
pub fn apply(
    rec: &mut DeliveryRecord,
    result: &AttemptResult,
    posted: bool,
    prior_in_flight: bool,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    jitter: f64,
) {
    rec.updated_at = now;
    rec.lease_until = None;
    rec.lease_owner = None;
    match result {
        AttemptResult::Accepted { status, body } => {
            rec.state = DeliveryState::Delivered;
            rec.delivered_at = Some(now);
            rec.in_flight = false;
            rec.waiting_for_auth = false;
            rec.next_attempt_at = None;
            rec.last_status = Some(*status);
            rec.last_response = Some(body.chars().take(2000).collect());
            rec.last_result = Some("delivered".into());
        }
        AttemptResult::AlreadyThere => {
            rec.state = DeliveryState::Delivered;
            rec.delivered_at = Some(now);
            rec.in_flight = false;
            rec.waiting_for_auth = false;
            rec.next_attempt_at = None;
            rec.last_result = Some("delivered (UC already had it)".into());
        }
        AttemptResult::Rejected { status, body } => {
            rec.state = DeliveryState::Rejected;
            rec.in_flight = false;
            rec.waiting_for_auth = false;
            rec.next_attempt_at = None;
            rec.last_status = Some(*status);
            rec.last_response = Some(body.chars().take(2000).collect());
            rec.last_result = Some(format!("rejected by UC (HTTP {status})"));
        }
        AttemptResult::Retry {
            ambiguous,
            retry_after,
            status,
            error,
        } => {
            rec.attempts = rec.attempts.saturating_add(1);
            rec.in_flight = if posted { *ambiguous } else { prior_in_flight };
            rec.waiting_for_auth = false;
            rec.next_attempt_at =
                Some(later(now, policy.delay(rec.attempts, *retry_after, jitter)));
            rec.last_status = *status;
            rec.last_result = Some(error.clone());
        }
        AttemptResult::AuthBlocked { error, .. } => {
            rec.in_flight = if posted { true } else { prior_in_flight };
            rec.waiting_for_auth = true;
            rec.next_attempt_at = Some(later(now, policy.auth_probe));
            rec.last_result = Some(error.clone());
        }
    }
}

/// Where a correction stands against the credit it waits for (SPEC §6: `<root>-R<n>` is
/// posted only after `<root>-C<n>` is delivered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditGate {
    /// The credit is delivered: the correction may be posted.
    Open,
    /// The credit is still on its way: look again when it is next due.
    Wait {
        credit: String,
        until: DateTime<Utc>,
    },
    /// The credit was rejected (or is missing): hold the correction for an operator.
    Hold { reason: String },
}

/// The gate for a correction, from its credit's record (`None`: the credit does not exist).
pub fn credit_gate(
    credit_id: &str,
    credit: Option<&DeliveryRecord>,
    now: DateTime<Utc>,
) -> CreditGate {
    match credit {
        None => CreditGate::Hold {
            reason: format!("its credit {credit_id} does not exist"),
        },
        Some(c) => match c.state {
            DeliveryState::Delivered => CreditGate::Open,
            DeliveryState::Pending => CreditGate::Wait {
                credit: credit_id.to_owned(),
                until: c.due_at().map_or(now, |d| d.max(now)),
            },
            DeliveryState::Rejected | DeliveryState::Held => CreditGate::Hold {
                reason: format!(
                    "held: its credit {credit_id} was rejected by UC ({}); re-drive the credit to release it",
                    c.last_result.as_deref().unwrap_or("no answer recorded")
                ),
            },
        },
    }
}

/// Applies a closed gate to a claimed correction: nothing was posted, so its in-flight flag
/// and attempt count stay as they were.
pub fn apply_gate(rec: &mut DeliveryRecord, gate: &CreditGate, now: DateTime<Utc>) {
    rec.updated_at = now;
    rec.lease_until = None;
    rec.lease_owner = None;
    match gate {
        CreditGate::Open => {}
        CreditGate::Wait { credit, until } => {
            rec.next_attempt_at = Some(*until);
            rec.last_result = Some(format!("waiting for its credit {credit} to be delivered"));
        }
        CreditGate::Hold { reason } => {
            rec.state = DeliveryState::Held;
            rec.next_attempt_at = None;
            rec.last_result = Some(reason.clone());
        }
    }
}

/// Puts a held (or rejected) record back in the queue, due now.
pub fn release(rec: &mut DeliveryRecord, now: DateTime<Utc>) {
    rec.state = DeliveryState::Pending;
    rec.next_attempt_at = Some(now);
    rec.updated_at = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, None, 1.0), Duration::from_secs(30));
        assert_eq!(p.delay(2, None, 1.0), Duration::from_secs(60));
        assert_eq!(p.delay(3, None, 0.0), Duration::from_secs(60));
        assert_eq!(p.delay(40, None, 1.0), Duration::from_secs(3600));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(600)), 1.0),
            Duration::from_secs(600)
        );
        assert_eq!(
            p.delay(3, Some(Duration::from_secs(1)), 1.0),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn retry_after_is_a_floor_of_at_most_an_hour() {
        let p = RetryPolicy::default();
        for ra in [
            Duration::from_secs(3601),
            Duration::from_secs(99_999_999_999_999),
            Duration::MAX,
        ] {
            assert_eq!(p.delay(1, Some(ra), 0.5), MAX_RETRY_AFTER, "{ra:?}");
        }
    }

    #[test]
    fn no_policy_jitter_or_count_can_panic_or_schedule_past_a_week() {
        let policies = [
            RetryPolicy::default(),
            RetryPolicy {
                base: Duration::MAX,
                max: Duration::MAX,
                lease: Duration::MAX,
                auth_probe: Duration::MAX,
            },
            RetryPolicy {
                base: Duration::ZERO,
                max: Duration::ZERO,
                lease: Duration::ZERO,
                auth_probe: Duration::ZERO,
            },
        ];
        for p in policies {
            for attempts in [0, 1, 2, 21, 32, u32::MAX] {
                for jitter in [
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    -1.0,
                    0.0,
                    1.0,
                    2.0,
                ] {
                    for ra in [None, Some(Duration::ZERO), Some(Duration::MAX)] {
                        let d = p.delay(attempts, ra, jitter);
                        assert!(d <= MAX_SCHEDULE, "{p:?} {attempts} {jitter} {ra:?}: {d:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn time_arithmetic_saturates() {
        let max = DateTime::<Utc>::MAX_UTC;
        assert_eq!(later(max, Duration::from_secs(3600)), max);
        assert_eq!(later(max, Duration::MAX), max);
        let t = DateTime::<Utc>::MIN_UTC;
        assert_eq!(later(t, Duration::MAX), t + chrono::Duration::days(7));
    }

    #[test]
    fn apply_survives_extreme_inputs() {
        let gln = crate::gln::Gln::parse("7080010002488").unwrap_or_else(|e| panic!("{e}"));
        let policy = RetryPolicy {
            base: Duration::MAX,
            max: Duration::MAX,
            lease: Duration::MAX,
            auth_probe: Duration::MAX,
        };
        for now in [
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
            Utc::now(),
        ] {
            let mut rec = DeliveryRecord::new_pending(
                gln.clone(),
                "1".into(),
                super::super::record::PayloadKind::InvoiceLine,
                serde_json::Value::Null,
                "707057500012345678".into(),
                now,
            );
            rec.attempts = u32::MAX;
            for result in [
                AttemptResult::Retry {
                    ambiguous: true,
                    retry_after: Some(Duration::MAX),
                    status: Some(429),
                    error: String::new(),
                },
                AttemptResult::AuthBlocked {
                    error: String::new(),
                    source: BlockSource::Uc,
                },
            ] {
                apply(&mut rec, &result, true, false, now, &policy, f64::NAN);
                let next = rec.next_attempt_at.unwrap_or(now);
                assert!(next >= now && next <= later(now, MAX_SCHEDULE));
                assert_eq!(rec.attempts, u32::MAX);
            }
        }
    }
}
