//! Shared helpers for the pxe benches (work in progress).
