//! The error type shared by the byte-level helpers.

/// What went wrong while reading or writing bytes.
///
/// Wire errors are `Copy` and carry only static context, so a core can keep them in statistics
/// without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before a field was complete.
    #[error("truncated at offset {offset}: needed {needed} more bytes, had {available}")]
    Truncated {
        /// Offset (from the start of the cursor's slice) where the read started.
        offset: usize,
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// The output buffer is too small for what was being written.
    #[error(
        "output buffer too small at offset {offset}: needed {needed} more bytes, had {available}"
    )]
    BufferTooSmall {
        /// Offset in the output buffer where the write started.
        offset: usize,
        /// Bytes the write needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A field had a value the format does not allow.
    #[error("malformed {field} at offset {offset}")]
    Malformed {
        /// The field's name, as the RFC calls it.
        field: &'static str,
        /// Offset of the field.
        offset: usize,
    },
    /// A value is longer than its length field can express.
    #[error("{field} is {len} bytes, longer than its format allows ({max})")]
    TooLong {
        /// The field's name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The largest length the format allows.
        max: usize,
    },
}
