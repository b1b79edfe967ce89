//! Helpers shared by the integration tests.
#![allow(dead_code)]

/// Hex with any whitespace and `#`-to-end-of-line comments.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub mod pair;
pub mod strategies;

pub const MARKER: &str = "ffffffffffffffffffffffffffffffff";
