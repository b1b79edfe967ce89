//! AS_PATH and AS4_PATH (RFC 4271 §4.3, RFC 6793).
use super::reader::Reader;
use crate::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

impl SegmentType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    pub kind: SegmentType,
    pub asns: Vec<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    pub segments: Vec<Segment>,
}

impl AsPath {
    pub fn sequence(asns: Vec<u32>) -> Self {
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![Segment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Whether any AS in the path needs four octets.
    pub fn needs_four_octets(&self) -> bool {
        self.segments
            .iter()
            .flat_map(|s| &s.asns)
            .any(|a| *a > 0xffff)
    }

    /// The leftmost AS, the one that eBGP speakers must have prepended.
    pub fn first_as(&self) -> Option<u32> {
        match self.segments.first() {
            Some(Segment {
                kind: SegmentType::Sequence,
                asns,
            }) => asns.first().copied(),
            _ => None,
        }
    }

    /// `None` when malformed (RFC 7606 §7.2): a segment that overruns, an
    /// empty segment, or an unknown segment type.
    pub(crate) fn parse(buf: &[u8], four_octet: bool) -> Option<AsPath> {
        let mut r = Reader::new(buf);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let kind = SegmentType::from_u8(r.u8()?)?;
            let count = r.u8()?;
            if count == 0 {
                return None;
            }
            let mut asns = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                asns.push(if four_octet {
                    r.u32()?
                } else {
                    u32::from(r.u16()?)
                });
            }
            segments.push(Segment { kind, asns });
        }
        Some(AsPath { segments })
    }

    /// With `four_octet` false, ASes above 65535 are written as AS_TRANS;
    /// the caller adds AS4_PATH. Segments over 255 ASes are split.
    pub(crate) fn emit(&self, four_octet: bool, out: &mut Vec<u8>) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(255) {
                out.push(seg.kind as u8);
                out.push(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        out.extend_from_slice(&asn.to_be_bytes());
                    } else {
                        let a = u16::try_from(asn).unwrap_or(super::open::AS_TRANS);
                        out.extend_from_slice(&a.to_be_bytes());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_octet_encodings() {
        let p = AsPath::sequence(vec![65001, 4_200_000_001]);
        let mut two = Vec::new();
        p.emit(false, &mut two);
        assert_eq!(two, [2, 2, 0xfd, 0xe9, 0x5b, 0xa0]);
        let mut four = Vec::new();
        p.emit(true, &mut four);
        assert_eq!(AsPath::parse(&four, true), Some(p));
    }

    #[test]
    fn malformed_paths() {
        assert_eq!(AsPath::parse(&[2, 0], false), None, "empty segment");
        assert_eq!(AsPath::parse(&[9, 1, 0, 1], false), None, "bad type");
        assert_eq!(AsPath::parse(&[2, 2, 0, 1], false), None, "overrun");
        assert_eq!(AsPath::parse(&[], false), Some(AsPath::default()));
    }
}
