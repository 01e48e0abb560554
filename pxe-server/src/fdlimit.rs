//! The open-file limit (`RLIMIT_NOFILE`). Every TFTP transfer holds a reply socket and usually
//! an open file (an HTTP connection likewise: its socket and the file it streams), so the common soft limit of 1024 runs out near 500 concurrent transfers. The
//! soft limit is raised to the hard one at start, as Go's runtime does since 1.19: systemd's
//! default of 1024 soft / 524288 hard keeps the low soft limit only for programs using
//! `select()`, and the hard limit for programs that ask.

use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};

/// A soft and hard limit pair; `None` is no limit (`RLIM_INFINITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rlimit {
    current: Option<u64>,
    maximum: Option<u64>,
}

/// A raw limit as an [`Rlimit`] field.
fn finite(raw: u64) -> Option<u64> {
    (raw != RLIM_INFINITY).then_some(raw)
}

/// Descriptors one transfer (or HTTP connection) holds: its socket and the file it reads or
/// writes.
const FDS_PER_TRANSFER: u64 = 2;

/// Descriptors besides the transfers: stdio, the listener, DHCP sockets, the root directory,
/// the runtime's epoll and eventfd, the lease file, with room to spare.
const FDS_BASE: u64 = 64;

/// Descriptors `slots` concurrent transfers and connections need.
#[must_use]
pub fn needed(slots: usize) -> u64 {
    u64::try_from(slots)
        .unwrap_or(u64::MAX)
        .saturating_mul(FDS_PER_TRANSFER)
        .saturating_add(FDS_BASE)
}

/// The soft limit to set: the hard one, when it is finite and higher (Linux refuses an
/// infinite `RLIMIT_NOFILE`; its hard limit is at most `fs.nr_open`).
fn raised(limit: &Rlimit) -> Option<u64> {
    match (limit.current, limit.maximum) {
        (Some(soft), Some(hard)) if soft < hard => Some(hard),
        _ => None,
    }
}

/// Whether a soft limit (`None`: unlimited) leaves room for `needed` descriptors.
fn enough(soft: Option<u64>, needed: u64) -> bool {
    soft.is_none_or(|s| s >= needed)
}

/// Raises the soft open-file limit to the hard limit (debug log of both values), then warns,
/// saying how to raise it, when the result is below what `slots` (TFTP `max_transfers`, plus
/// HTTP `max_connections` when HTTP is on) need.
pub fn raise_for(slots: usize) {
    let before = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => Rlimit {
            current: finite(soft),
            maximum: finite(hard),
        },
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the open-file limit");
            return;
        }
    };
    let mut soft = before.current;
    if let Some(target) = raised(&before) {
        let hard = before.maximum.unwrap_or(RLIM_INFINITY);
        match setrlimit(Resource::RLIMIT_NOFILE, target, hard) {
            Ok(()) => soft = Some(target),
            Err(e) => {
                tracing::debug!(error = %e, target, "cannot raise the open-file limit");
            }
        }
    }
    tracing::debug!(
        old = %shown(before.current), new = %shown(soft), hard = %shown(before.maximum),
        "open-file limit (RLIMIT_NOFILE)"
    );
    let need = needed(slots);
    if !enough(soft, need) {
        tracing::warn!(
            limit = %shown(soft), needed = need, slots,
            "open-file limit too low for max_transfers (plus [http] max_connections): \
             transfers beyond it fail; raise it (`LimitNOFILE={need}` or more in the systemd \
             unit, see contrib/pxe.service; `ulimit -n {need}` in a shell) or lower the caps"
        );
    }
}

/// A limit for logs: `None` is no limit.
fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(current: Option<u64>, maximum: Option<u64>) -> Rlimit {
        Rlimit { current, maximum }
    }

    #[test]
    fn raises_to_a_finite_higher_hard_limit_only() {
        assert_eq!(raised(&limit(Some(1024), Some(524_288))), Some(524_288));
        assert_eq!(raised(&limit(Some(4096), Some(4096))), None);
        assert_eq!(raised(&limit(Some(1024), None)), None);
        assert_eq!(raised(&limit(None, None)), None);
    }

    #[test]
    fn default_cap_needs_more_than_the_usual_soft_limit() {
        let need = needed(crate::tftp::admission::DEFAULT_MAX_TRANSFERS);
        assert_eq!(need, 4064);
        assert!(!enough(Some(1024), need));
        assert!(enough(Some(524_288), need));
        assert!(enough(None, need));
        assert_eq!(needed(usize::MAX), u64::MAX);
    }
}
