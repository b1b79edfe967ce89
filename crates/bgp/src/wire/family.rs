//! Address families (RFC 4760 AFI/SAFI) and a tiny set of the two that
//! leafvip announces.
use core::fmt;

pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const SAFI_UNICAST: u8 = 1;

/// An AFI/SAFI pair. Kept open (any numbers) because capabilities for
/// families we do not speak must still be parsed, kept and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Family {
    pub afi: u16,
    pub safi: u8,
}

impl Family {
    pub const IPV4_UNICAST: Family = Family {
        afi: AFI_IPV4,
        safi: SAFI_UNICAST,
    };
    pub const IPV6_UNICAST: Family = Family {
        afi: AFI_IPV6,
        safi: SAFI_UNICAST,
    };

    pub const fn new(afi: u16, safi: u8) -> Self {
        Family { afi, safi }
    }

    /// The families whose NLRI this crate can parse.
    pub fn is_supported(self) -> bool {
        self == Family::IPV4_UNICAST || self == Family::IPV6_UNICAST
    }

    fn bit(self) -> u8 {
        match self {
            Family::IPV4_UNICAST => 1,
            Family::IPV6_UNICAST => 2,
            _ => 0,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Family::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            Family::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            Family { afi, safi } => write!(f, "afi{afi}/safi{safi}"),
        }
    }
}

/// A set over the supported families; unsupported ones are never members.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);
    pub const IPV4: FamilySet = FamilySet(1);
    pub const BOTH: FamilySet = FamilySet(3);

    pub fn contains(self, family: Family) -> bool {
        let bit = family.bit();
        bit != 0 && self.0 & bit != 0
    }

    pub fn insert(&mut self, family: Family) {
        self.0 |= family.bit();
    }

    pub fn with(mut self, family: Family) -> Self {
        self.insert(family);
        self
    }

    pub fn intersect(self, other: FamilySet) -> FamilySet {
        FamilySet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Family> {
        [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<I: IntoIterator<Item = Family>>(iter: I) -> Self {
        let mut set = FamilySet::EMPTY;
        for f in iter {
            set.insert(f);
        }
        set
    }
}

impl fmt::Display for FamilySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for fam in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{fam}")?;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}
