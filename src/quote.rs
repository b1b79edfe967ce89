//! Quoting what a user wrote back into an error message, bounded: a value
//! can be megabytes long (a config of 64 MiB is accepted), and an error
//! line must stay a line.
/// At most this many characters of a value are shown.
const SHOWN: usize = 40;

/// `s` quoted as Rust's `{:?}` does, cut to [`SHOWN`] characters with
/// "…" after the quote when it was longer.
pub fn quoted(s: &str) -> String {
    match s.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
        None => format!("{s:?}"),
    }
}

/// A whole message, cut to a line's worth.
pub fn clip(msg: &str) -> String {
    match msg.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &msg[..cut]),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_short_ones_kept() {
        assert_eq!(quoted("90s"), "\"90s\"");
        let long = "a".repeat(10_000_000);
        let q = quoted(&long);
        assert_eq!(q, format!("\"{}\"… (10000000 bytes)", "a".repeat(40)));
        assert_eq!(
            quoted(&"é".repeat(50))
                .chars()
                .filter(|c| *c == 'é')
                .count(),
            40
        );
        assert_eq!(clip(&long).len(), 160 + "…".len());
    }
}
