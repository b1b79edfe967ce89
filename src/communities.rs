//! BGP communities as operators write them in the config: "65000:100",
//! well-known names, and large communities "GLOBAL:LOCAL1:LOCAL2".
use crate::toml_read::{self as tr, FromValue, Spanned};
use leafvip_bgp::wire::{community, LargeCommunity};
use std::str::FromStr;
use toml::de::DeValue;

/// A community that is not one: the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommunityError {
    Standard(String),
    Large(String),
}

impl std::fmt::Display for CommunityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::quote::quoted;
        match self {
            CommunityError::Standard(s) => write!(
                f,
                "community {} is not ASN:VALUE with both parts 0..=65535",
                quoted(s)
            ),
            CommunityError::Large(s) => write!(
                f,
                "large community {} is not GLOBAL:LOCAL1:LOCAL2",
                quoted(s)
            ),
        }
    }
}

/// "65000:100", or a well-known name such as "graceful-shutdown".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Community(pub u32);

impl FromStr for Community {
    type Err = CommunityError;
    fn from_str(s: &str) -> Result<Self, CommunityError> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "graceful-shutdown" => return Ok(Community(community::GRACEFUL_SHUTDOWN)),
            "no-export" => return Ok(Community(community::NO_EXPORT)),
            "no-advertise" => return Ok(Community(community::NO_ADVERTISE)),
            _ => {}
        }
        let bad = || CommunityError::Standard(s.to_string());
        let (a, b) = s.split_once(':').ok_or_else(bad)?;
        let a: u16 = a.parse().map_err(|_| bad())?;
        let b: u16 = b.parse().map_err(|_| bad())?;
        Ok(Community((u32::from(a) << 16) | u32::from(b)))
    }
}

impl FromValue for Community {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        tr::parsed(v)
    }
}

/// "GLOBAL:LOCAL1:LOCAL2" (RFC 8092), each part 0..=4294967295.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Large(pub LargeCommunity);

impl FromStr for Large {
    type Err = CommunityError;
    fn from_str(s: &str) -> Result<Self, CommunityError> {
        let parts: Vec<Option<u32>> = s.split(':').map(|p| p.parse().ok()).collect();
        match parts.as_slice() {
            [Some(g), Some(l1), Some(l2)] => Ok(Large(LargeCommunity {
                global: *g,
                local1: *l1,
                local2: *l2,
            })),
            _ => Err(CommunityError::Large(s.to_string())),
        }
    }
}

impl FromValue for Large {
    fn from_value(v: &Spanned<DeValue<'_>>) -> tr::Result<Self> {
        tr::parsed(v)
    }
}
