//! The binary's error type: the server library's, whose variants also cover the commands
//! that only the binary has (menus, doctor, the TFTP client).

pub use pxe_server::Error;
