//! leafvip's BGP-4 core, written as pure code.
//!
//! Bytes, events and the current time go in; bytes, actions and the next
//! deadline come out. Nothing in this crate opens a socket, spawns a task,
//! sleeps or reads a clock, so the same code runs under smol, tokio, a test
//! script or a fuzzer, and every behaviour can be replayed deterministically.
//! `tests/no_io.rs` keeps it that way by scanning the sources.
//!
//! - [`wire`]: RFC 4271 message formats plus the capabilities and attributes
//!   leafvip speaks, parse and emit, with RFC 7606 error classification.
//! - [`session`]: the RFC 4271 §8 finite state machine for one connection.
//! - [`rib_out`]: the per-peer Adj-RIB-Out that turns a desired route set into
//!   as few UPDATEs as possible.
//! - [`peer`]: a session and its Adj-RIB-Out glued together, which is what the
//!   runtime drives.
//!
//! The crate is `#![no_std]` (with `alloc`): the compiler itself refuses
//! `std::net::TcpStream`, `std::time::Instant::now`, files and threads, so
//! the sans-io boundary does not rest on a source scan alone.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// What every module takes from `alloc` where `std` would have given it.
mod prelude {
    pub use alloc::boxed::Box;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

pub mod peer;
pub mod rib_out;
pub mod session;
pub mod time;
pub mod wire;

pub use time::Instant;
