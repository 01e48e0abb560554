//! Least privilege: once every socket that needs root is bound, the process switches to an
//! unprivileged user and keeps only the capabilities it still uses, as dnsmasq does
//! (dnsmasq `src/dnsmasq.c` `main`: `prctl(PR_SET_KEEPCAPS)`, `setuid`, then `capset` with
//! only `CAP_NET_ADMIN`/`CAP_NET_RAW` permitted and effective).
//!
//! Capabilities belong to each thread, so [`drop_privileges`] must run while the process has a
//! single thread (before the tokio runtime and the TFTP threads start): every thread created
//! afterwards inherits the reduced set.
//!
//! What each service still needs once bound:
//! - TFTP and HTTP: nothing (transfer sockets use unprivileged ports).
//! - proxyDHCP: nothing (its replies are broadcasts or unicasts to an address the client owns).
//! - the DHCP lease server: `CAP_NET_ADMIN`, to write the neighbour-table entry through which
//!   an offer reaches a client that has no address yet (`SIOCSARP`, [`crate::dhcp::arp`]).

use std::io;

use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Uid, User};

use crate::error::Error;

/// The user switched to when none is configured: a dedicated system user, created by the
/// package (`adduser --system --group pxe`).
pub const DEFAULT_USER: &str = "pxe";

/// What the process holds after [`drop_privileges`], for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The user name now in effect.
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// The capabilities kept (permitted and effective).
    pub kept: Vec<Capability>,
}

/// Switches to `user` (or [`DEFAULT_USER`]) and keeps only `keep` of the capabilities.
///
/// - Run as root: `user` must exist; with no `user`, [`DEFAULT_USER`] is used when it exists,
///   otherwise the process stays uid 0 (with a warning saying how to create the user) but still
///   without any capability beyond `keep`. Supplementary groups are replaced by the user's
///   primary group.
/// - Run as another user (for example by systemd with `User=pxe` and ambient capabilities):
///   no switch is possible, so a different `user` is an error; capabilities are still reduced.
///
/// In every case the bounding, inheritable and ambient sets are emptied too, so no later
/// `execve` could regain anything.
pub fn drop_privileges(user: Option<&str>, keep: &[Capability]) -> Result<Dropped, Error> {
    let euid = Uid::effective();
    let target = match user {
        Some(name) => Some(lookup(name)?.ok_or_else(|| {
            Error::Usage(format!(
                "user `{name}` does not exist (set [tftp] user / --user to an existing user, or create it: adduser --system --group {name})"
            ))
        })?),
        None if euid.is_root() => {
            let found = lookup(DEFAULT_USER)?;
            if found.is_none() {
                tracing::warn!(
                    "no user `{DEFAULT_USER}`: staying uid 0, but without capabilities beyond the ones needed; create the user (adduser --system --group {DEFAULT_USER}) or set [tftp] user / --user"
                );
            }
            found
        }
        None => None,
    };
    if let Some(u) = &target
        && u.uid != euid
    {
        if !euid.is_root() {
            return Err(Error::Usage(format!(
                "cannot switch to user `{}`: not running as root (running as uid {euid})",
                u.name
            )));
        }
        switch_user(u).map_err(|e| Error::io(format!("switch to user `{}`", u.name), e))?;
    }
    let kept = reduce_capabilities(keep)
        .map_err(|e| Error::io("drop capabilities", io::Error::other(e.to_string())))?;
    let uid = Uid::effective();
    let name = match &target {
        Some(u) => u.name.clone(),
        None => User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name),
    };
    let dropped = Dropped {
        user: name,
        uid: uid.as_raw(),
        kept,
    };
    tracing::info!(
        user = %dropped.user,
        uid = dropped.uid,
        capabilities = %names(&dropped.kept),
        "privileges dropped"
    );
    Ok(dropped)
}

fn lookup(name: &str) -> Result<Option<User>, Error> {
    User::from_name(name).map_err(|e| Error::io(format!("look up user `{name}`"), e.into()))
}

/// `setgroups`, `setgid`, `setuid` with `PR_SET_KEEPCAPS` set, so the permitted set survives
/// the uid change (capabilities(7), "Effect of user ID changes on capabilities").
fn switch_user(u: &User) -> io::Result<()> {
    use nix::unistd::{setgid, setgroups, setuid};
    caps::securebits::set_keepcaps(true).map_err(|e| io::Error::other(e.to_string()))?;
    setgroups(&[u.gid])?;
    setgid(u.gid)?;
    setuid(u.uid)?;
    caps::securebits::set_keepcaps(false).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(())
}

/// Leaves `keep` (those of them still permitted) as the permitted and effective sets and
/// empties the others; returns what was kept.
fn reduce_capabilities(keep: &[Capability]) -> Result<Vec<Capability>, caps::errors::CapsError> {
    let permitted = caps::read(None, CapSet::Permitted)?;
    // Dropping from the bounding set needs CAP_SETPCAP in the effective set (a uid change
    // cleared it; KEEPCAPS left it permitted).
    if permitted.contains(&Capability::CAP_SETPCAP) {
        caps::raise(None, CapSet::Effective, Capability::CAP_SETPCAP)?;
        for cap in caps::runtime::thread_all_supported() {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)?;
            }
        }
    }
    let kept: CapsHashSet = keep
        .iter()
        .copied()
        .filter(|c| permitted.contains(c))
        .collect();
    caps::clear(None, CapSet::Ambient)?;
    caps::clear(None, CapSet::Inheritable)?;
    caps::set(None, CapSet::Effective, &kept)?;
    caps::set(None, CapSet::Permitted, &kept)?;
    for missing in keep.iter().filter(|c| !kept.contains(c)) {
        tracing::warn!(
            capability = %missing,
            "capability not held, so not kept: start pxe as root (or give it the capability)"
        );
    }
    let mut kept: Vec<Capability> = kept.into_iter().collect();
    kept.sort_by_key(|c| c.index());
    Ok(kept)
}

/// `CAP_A,CAP_B`, or `none`.
fn names(caps: &[Capability]) -> String {
    if caps.is_empty() {
        return "none".to_owned();
    }
    caps.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lists_capabilities() {
        assert_eq!(names(&[]), "none");
        assert_eq!(
            names(&[Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN]),
            "CAP_NET_RAW,CAP_NET_ADMIN"
        );
    }
}
