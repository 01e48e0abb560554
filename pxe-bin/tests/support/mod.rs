//! The kit shared by the pxe-bin integration tests; each test crate says `mod support;` and
//! uses what it needs:
//!
//! - [`tools`]: the binary under test, required tools (missing ones fail the test, never skip
//!   it), checked setup steps and commands with a time limit;
//! - [`process`]: guards that stop every process a test starts by pid, also when it fails;
//! - [`pxe`]: `pxe` started and waited on until it listens, its log in memory;
//! - [`clients`]: real TFTP clients driven against it; [`raw_tftp`]: TFTP packets by hand;
//! - [`netns`]: network namespaces and veth pairs, always deleted;
//! - [`files`]: random files and their digests; [`http`]: HTTP by hand against `pxe serve`;
//! - [`metrics`]: the admin listener's `/metrics`, parsed by the Prometheus reference parser;
//! - [`dhcp`]: DHCP servers in a namespace, relayed load clients and their audits;
//! - [`firmware_lab`]: real firmware booted in QEMU against a server in a namespace;
//! - [`os_image`]: a real OS (Debian's signed kernel + a busybox initramfs) for those boots.

#![allow(dead_code, reason = "each test crate uses a different subset")]

pub mod clients;
pub mod dhcp;
pub mod files;
pub mod firmware_lab;
pub mod http;
pub mod metrics;
pub mod netns;
pub mod os_image;
pub mod process;
pub mod pxe;
pub mod raw_tftp;
pub mod tools;
