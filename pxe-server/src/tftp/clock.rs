//! The driver's clock: `pxe_proto::Instant` as microseconds since the first call.

use std::sync::OnceLock;

static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();

/// Now, for the Sans-IO cores.
pub fn now() -> pxe_proto::Instant {
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    let micros = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
    pxe_proto::Instant::from_micros(micros)
}

/// A core deadline as a tokio timer instant.
pub fn to_tokio(t: pxe_proto::Instant) -> tokio::time::Instant {
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    let at = epoch
        .checked_add(std::time::Duration::from_micros(t.as_micros()))
        .unwrap_or_else(|| std::time::Instant::now() + std::time::Duration::from_secs(86_400));
    tokio::time::Instant::from_std(at)
}
