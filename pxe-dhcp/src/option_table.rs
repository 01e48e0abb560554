//! The option-table macro behind [`crate::wire::OptionCode`]/[`crate::wire::DhcpOption`] (DHCPv4,
//! one-byte codes) and [`crate::v6::OptionCode`]/[`crate::v6::Dhcp6Option`] (DHCPv6, two-byte
//! codes): one table of code, variant, value type and name generates the code enum (code ↔
//! name) and the typed option enum (decode, encode). The value types are read and written
//! through the `OptionValue` trait in scope where the table is declared.

/// Declares every known option of one protocol once. `code` is the width of the wire code
/// (`u8` for DHCPv4, `u16` for DHCPv6), `option` the name of the typed option enum; the `*_doc`
/// strings document the generated items.
macro_rules! option_table {
    (
        code: $int:ty,
        option: $option:ident,
        code_doc: $code_doc:literal,
        option_doc: $option_doc:literal,
        name_doc: $name_doc:literal,
        decode_doc: $decode_doc:literal;
        $( $(#[$doc:meta])* $code:literal => $variant:ident($ty:ty), $name:literal; )*
    ) => {
        #[doc = $code_doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum OptionCode {
            $( $(#[$doc])* $variant, )*
            /// A code not in the table.
            Unknown($int),
        }

        impl From<$int> for OptionCode {
            fn from(code: $int) -> Self {
                match code {
                    $( $code => OptionCode::$variant, )*
                    other => OptionCode::Unknown(other),
                }
            }
        }

        impl From<OptionCode> for $int {
            fn from(code: OptionCode) -> $int {
                match code {
                    $( OptionCode::$variant => $code, )*
                    OptionCode::Unknown(c) => c,
                }
            }
        }

        impl OptionCode {
            #[doc = $name_doc]
            pub fn name(self) -> &'static str {
                match self {
                    $( OptionCode::$variant => $name, )*
                    OptionCode::Unknown(_) => "unknown",
                }
            }
        }

        #[doc = $option_doc]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $option {
            $( $(#[$doc])* $variant($ty), )*
            /// An option not in the table, kept byte for byte.
            Unknown {
                /// The option code.
                code: $int,
                /// The option's data.
                data: Vec<u8>,
            },
        }

        impl $option {
            /// The option's code.
            pub fn code(&self) -> OptionCode {
                match self {
                    $( $option::$variant(_) => OptionCode::$variant, )*
                    $option::Unknown { code, .. } => OptionCode::from(*code),
                }
            }

            #[doc = $decode_doc]
            pub fn decode(code: $int, data: &[u8]) -> Result<Self, &'static str> {
                match code {
                    $( $code => <$ty as OptionValue>::decode(data).map($option::$variant), )*
                    _ => Ok($option::Unknown { code, data: data.to_vec() }),
                }
            }

            /// Appends the option's data bytes (without code and length) to `out`.
            pub fn encode_value(&self, out: &mut Vec<u8>) {
                match self {
                    $( $option::$variant(v) => OptionValue::encode(v, out), )*
                    $option::Unknown { data, .. } => out.extend_from_slice(data),
                }
            }
        }
    };
}
