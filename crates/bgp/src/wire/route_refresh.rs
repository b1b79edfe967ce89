//! ROUTE-REFRESH (RFC 2918), with the subtypes of Enhanced Route Refresh
//! (RFC 7313) kept so that BoRR/EoRR markers are not mistaken for requests.
use super::family::Family;
use super::reader::Reader;
use super::DecodeError;
use crate::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRefresh {
    pub family: Family,
    /// 0 = request, 1 = Beginning of Route Refresh, 2 = End of Route Refresh.
    pub subtype: u8,
}

impl RouteRefresh {
    pub fn request(family: Family) -> Self {
        RouteRefresh { family, subtype: 0 }
    }

    /// `whole` is the complete message, which RFC 7313 §5 puts in the
    /// NOTIFICATION data when the length is wrong.
    pub(crate) fn parse(body: &[u8], whole: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let fields = (r.u16(), r.u8(), r.u8());
        match fields {
            (Some(afi), Some(subtype), Some(safi)) if r.is_empty() => Ok(RouteRefresh {
                family: Family::new(afi, safi),
                subtype,
            }),
            _ => Err(DecodeError::RouteRefreshLength {
                message: whole.to_vec(),
            }),
        }
    }

    pub(crate) fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.family.afi.to_be_bytes());
        out.push(self.subtype);
        out.push(self.family.safi);
    }
}
