//! Leader election over a `coordination.k8s.io` Lease, decided purely:
//! the Lease as read and the time in, what to do out. The runtime writes
//! the Lease with its resourceVersion as a precondition, so of two agents
//! that decide to take it at once, one write fails with 409 and that
//! agent follows. The leader renews well before the Lease expires and
//! stops allocating as soon as a renewal is late, before anyone else may
//! take over: at no moment do two agents both believe they lead.
//! (The same scheme as client-go's leaderelection package.)

/// The Lease's fields that matter, with times in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseView {
    pub holder: Option<String>,
    pub renewed_ms: Option<i64>,
    pub duration_s: i64,
    pub transitions: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It is ours: write a renewal.
    Renew,
    /// Free or expired: take it (transitions + 1 when another held it).
    Acquire,
    /// Another holds it until this time.
    Follow { until_ms: i64 },
}

pub fn step(me: &str, lease: Option<&LeaseView>, now_ms: i64) -> Step {
    let Some(l) = lease else {
        return Step::Acquire;
    };
    match (&l.holder, l.renewed_ms) {
        (Some(h), _) if h == me => Step::Renew,
        (Some(h), Some(r)) if !h.is_empty() => {
            let until = r + l.duration_s * 1000;
            if now_ms < until {
                Step::Follow { until_ms: until }
            } else {
                Step::Acquire
            }
        }
        _ => Step::Acquire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_free_or_expired_renew_ours_follow_others() {
        assert_eq!(step("a", None, 0), Step::Acquire);
        let l = LeaseView {
            holder: Some("b".into()),
            renewed_ms: Some(1_000),
            duration_s: 15,
            transitions: 3,
        };
        assert_eq!(
            step("a", Some(&l), 10_000),
            Step::Follow { until_ms: 16_000 }
        );
        assert_eq!(step("a", Some(&l), 16_000), Step::Acquire);
        assert_eq!(step("b", Some(&l), 99_000), Step::Renew);
        let released = LeaseView {
            holder: Some(String::new()),
            ..l
        };
        assert_eq!(step("a", Some(&released), 2_000), Step::Acquire);
    }
}
