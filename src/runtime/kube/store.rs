//! What the cluster thread keeps of the objects `crate::lb` reads (Services,
//! Eips, EndpointSlices, Nodes, Namespaces), shared by the watchers that
//! fill it (`lb.rs`) and the allocator that writes from it (`alloc.rs`).
//! One task owns it, so it is an `Rc<RefCell<_>>`, never borrowed across
//! an await.
use crate::labels::Labels;
use crate::lb::announce::NodeInfo;
use crate::lb::object::{EipStatus, Meta};
use crate::lb::pool::{self, EipError, Pool};
use crate::lb::service::Svc;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// One watched object's identity, for preconditions and Events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ref {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub version: String,
}

impl Ref {
    /// A Service's, from what its Svc keeps.
    pub fn svc(s: &Svc, version: &str) -> Ref {
        Ref {
            namespace: s.namespace.clone(),
            name: s
                .key
                .get(s.namespace.len() + 1..)
                .unwrap_or_default()
                .to_string(),
            uid: s.uid.clone(),
            version: version.to_string(),
        }
    }

    pub(super) fn of(m: &Meta) -> Ref {
        Ref {
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            uid: m.uid.clone(),
            version: m.version.clone(),
        }
    }
}

/// Which initial lists are complete (a bit each).
pub const SERVICES: u8 = 1;
pub const EIPS: u8 = 2;
pub const SLICES: u8 = 4;
pub const NODE: u8 = 8;
pub const NAMESPACES: u8 = 16;
pub const ALL: u8 = 31;

#[derive(Debug, Default)]
pub struct State {
    pub node: String,
    /// LoadBalancer Services only, with their resourceVersion (the rest
    /// of their [`Ref`] is in the Svc: [`Ref::svc`]).
    pub services: BTreeMap<String, (Svc, String)>,
    /// Eips: the pool or why not, and the status as read.
    pub eips: BTreeMap<String, (Result<Pool, EipError>, Ref, EipStatus)>,
    /// EndpointSlices (keyed by `kinds::Slices`, which starts with their
    /// Service) with an endpoint that may take traffic on this node (on
    /// any node when `hosts`), and those nodes. A slice with none is not
    /// kept: most of a big cluster's slices have no endpoint here.
    pub slices: BTreeMap<String, Vec<String>>,
    /// This node, or every Node when `hosts` or while an Eip is layer2
    /// (the others without their labels, which only a rack speaker reads).
    pub nodes: BTreeMap<String, NodeInfo>,
    /// A rack speaker: announce with the Ready Nodes as next hops.
    pub hosts: bool,
    pub namespaces: BTreeMap<String, Labels>,
    pub synced: u8,
    pub leader: bool,
}

impl State {
    pub fn svcs(&self) -> Vec<Svc> {
        self.services.values().map(|(s, _)| s.clone()).collect()
    }

    /// The valid Eips; those that overlap an older one say so and serve
    /// nothing.
    pub fn pools(&self) -> Vec<Pool> {
        let valid = self.valid_pools();
        let refused = pool::overlapping(&valid);
        valid
            .into_iter()
            .map(|p| Pool {
                overlaps: refused.get(&p.name).cloned(),
                ..p
            })
            .collect()
    }

    fn valid_pools(&self) -> Vec<Pool> {
        self.eips
            .values()
            .filter_map(|(p, _, _)| p.as_ref().ok().cloned())
            .collect()
    }

    /// Every Eip that does not serve, and why: a wrong field, or an
    /// overlap with an older Eip (named with both ranges).
    pub fn eip_problems(&self) -> BTreeMap<String, String> {
        let valid = self.valid_pools();
        let range_of = |n: &str| {
            valid
                .iter()
                .find(|p| p.name == n)
                .map_or(String::new(), |p| {
                    format!("{}-{}", p.range.first(), p.range.last())
                })
        };
        let mut out: BTreeMap<String, String> = pool::overlapping(&valid)
            .into_iter()
            .map(|(young, old)| {
                let why = format!(
                    "spec.address {} overlaps Eip {old} ({}), which is older: \
                     its addresses are not allocated (OpenELB's webhook refuses such an Eip)",
                    range_of(&young),
                    range_of(&old)
                );
                (young, why)
            })
            .collect();
        for (name, (p, _, _)) in &self.eips {
            if let Err(e) = p {
                out.insert(name.clone(), e.to_string());
            }
        }
        out
    }

    /// Whether any Eip serves layer2: then every node watches every Node,
    /// to name the owners of its addresses (`crate::lb::owners`).
    #[cfg(feature = "l2")]
    pub fn layer2_in_use(&self) -> bool {
        self.eips
            .values()
            .any(|(p, _, _)| p.as_ref().is_ok_and(|p| p.layer2.is_some()))
    }

    /// Services with a usable endpoint on this node.
    pub fn here(&self) -> BTreeSet<String> {
        self.slices
            .iter()
            .filter(|(_, nodes)| nodes.contains(&self.node))
            .map(|(k, _)| k.split_once(' ').map_or("", |(svc, _)| svc).to_string())
            .collect()
    }

    /// A Service's nodes with a usable endpoint, over all its slices
    /// (which sort together: their keys start with the Service's).
    pub(super) fn usable(&self, svc: &str) -> Vec<String> {
        let from = format!("{svc} ");
        let mut nodes: Vec<String> = self
            .slices
            .range(from.clone()..)
            .take_while(|(k, _)| k.starts_with(&from))
            .flat_map(|(_, n)| n.iter().cloned())
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }
}

pub type Shared = Rc<RefCell<State>>;
