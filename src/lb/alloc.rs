//! The allocator: which address each LoadBalancer Service of ours gets.
//! Pure: pools and Services (with the addresses their status holds) in,
//! for each Service the addresses to write, if they change, and what it
//! could not get, out. The leader runs it; everyone else only reads.
//!
//! Its rules, in order of strength:
//! - An address a Service's status holds stays with it: a restart, a new
//!   leader or a relist never moves a live Service. Only an address two
//!   Services both hold (which the writes' preconditions prevent) goes to
//!   the older one (creation time, then name), and the other gets a new one.
//! - An address asked for (the `eip.openelb.kubesphere.io/v1alpha1`
//!   annotation, or `spec.loadBalancerIP`) must be in an allowed pool and
//!   free; then it replaces the one held.
//! - Otherwise the lowest free address of the first pool that may serve the
//!   Service: the pools it names (`eip.openelb.kubesphere.io/v1alpha2`),
//!   else the default pools; by `spec.priority`, then name.
//! - A Service that cannot be served keeps its status, and the reasons come
//!   back for an Event.
//! - A deleted Service is simply gone from the input: its address is free.
use super::pool::Pool;
use super::service::Svc;
use crate::labels::Labels;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the allocator decided for one Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The addresses to write to its status, when they differ from it.
    pub write: Option<Vec<IpAddr>>,
    /// Why it lacks an address it wants (for an Event), or why a held one
    /// could not be replaced by the one asked for.
    pub problems: Vec<String>,
}

/// The whole result: per Service (by key), and per pool its addresses in
/// use and by whom, for the Eips' status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    pub services: BTreeMap<String, Decision>,
    pub used: BTreeMap<String, BTreeMap<IpAddr, String>>,
}

/// Allocates for every Service of ours. `namespaces` holds each
/// namespace's labels, for pools with a namespace selector.
pub fn allocate(
    pools: &[Pool],
    services: &[Svc],
    namespaces: &BTreeMap<String, Labels>,
) -> Allocation {
    let mut order: Vec<&Svc> = services.iter().filter(|s| s.ours).collect();
    order.sort_by(|a, b| (&a.created, &a.key).cmp(&(&b.created, &b.key)));
    // Every address held (in a status, or claimed in an Eip), by its
    // oldest holder.
    let mut used: BTreeMap<IpAddr, &str> = BTreeMap::new();
    for s in &order {
        for ip in s.current.iter().chain(&s.claimed) {
            used.entry(*ip).or_insert(&s.key);
        }
    }
    let no_labels = Labels::new();
    let mut out = Allocation::default();
    for s in &order {
        let ns_labels = namespaces.get(&s.namespace).unwrap_or(&no_labels);
        let mut d = Decision::default();
        let mut addrs = Vec::new();
        // Holds an address an older Service holds too: it must not keep it.
        let disputed = s
            .current
            .iter()
            .any(|ip| used.get(ip) != Some(&s.key.as_str()));
        for v4 in [true, false]
            .into_iter()
            .filter(|v4| if *v4 { s.v4 } else { s.v6 })
        {
            let held = s
                .current
                .iter()
                .chain(&s.claimed)
                .find(|ip| ip.is_ipv4() == v4 && used.get(ip) == Some(&s.key.as_str()))
                .copied();
            let asked = s.requested.iter().find(|ip| ip.is_ipv4() == v4).copied();
            let got = match (held, asked) {
                (Some(h), Some(r)) if h != r => match take(pools, s, ns_labels, r, &used) {
                    Ok(()) => {
                        used.remove(&h);
                        Some(r)
                    }
                    Err(e) => {
                        d.problems.push(e);
                        Some(h)
                    }
                },
                (Some(h), _) => Some(h),
                (None, Some(r)) => match take(pools, s, ns_labels, r, &used) {
                    Ok(()) => Some(r),
                    Err(e) => {
                        d.problems.push(e);
                        None
                    }
                },
                (None, None) => match pick(pools, s, ns_labels, v4, &used) {
                    Ok(ip) => Some(ip),
                    Err(e) => {
                        d.problems.push(e);
                        None
                    }
                },
            };
            if let Some(ip) = got {
                used.insert(ip, &s.key);
                addrs.push(ip);
            }
        }
        // Held addresses it keeps no more (a family dropped, a request
        // honoured) are free for others.
        for ip in s.current.iter().chain(&s.claimed) {
            if !addrs.contains(ip) && used.get(ip) == Some(&s.key.as_str()) {
                used.remove(ip);
            }
        }
        // A Service that cannot be served keeps its status, unless that
        // holds an address that is another's.
        if addrs != s.current && (disputed || !addrs.is_empty() || d.problems.is_empty()) {
            d.write = Some(addrs);
        }
        out.services.insert(s.key.clone(), d);
    }
    for p in pools.iter().filter(|p| p.overlaps.is_none()) {
        let mine = used
            .iter()
            .filter(|(ip, _)| p.range.contains(**ip))
            .map(|(ip, k)| (*ip, k.to_string()))
            .collect();
        out.used.insert(p.name.clone(), mine);
    }
    out
}

/// The pools that may serve `s` in a family, best first, or why none may.
fn candidates<'p>(
    pools: &'p [Pool],
    s: &Svc,
    ns_labels: &Labels,
    v4: bool,
) -> Result<Vec<&'p Pool>, String> {
    let family = if v4 { "IPv4" } else { "IPv6" };
    let mut named: Vec<&Pool> = if s.pools.is_empty() {
        pools.iter().filter(|p| p.default).collect()
    } else {
        let mut v = Vec::new();
        for n in &s.pools {
            match pools.iter().find(|p| &p.name == n) {
                Some(p) => v.push(p),
                None => return Err(format!("pool {n} does not exist")),
            }
        }
        v
    };
    named.retain(|p| p.range.is_v4() == v4);
    if named.is_empty() {
        return Err(if s.pools.is_empty() {
            format!(
                "no default {family} pool (annotate an Eip {}: \"true\")",
                super::pool::DEFAULT_ANNOTATION
            )
        } else {
            format!("none of the pools {} is {family}", s.pools.join(", "))
        });
    }
    let mut why = String::new();
    named.retain(|p| {
        if let Some(older) = &p.overlaps {
            why = format!(
                "pool {} overlaps the older Eip {older} and serves nothing",
                p.name
            );
            false
        } else if p.disabled {
            why = format!("pool {} is disabled", p.name);
            false
        } else if !p.allows(&s.namespace, ns_labels) {
            why = format!(
                "pool {} is not allowed in namespace {}",
                p.name, s.namespace
            );
            false
        } else {
            true
        }
    });
    if named.is_empty() {
        return Err(why);
    }
    named.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
    Ok(named)
}

/// The lowest free address of the best pool with one.
fn pick(
    pools: &[Pool],
    s: &Svc,
    ns_labels: &Labels,
    v4: bool,
    used: &BTreeMap<IpAddr, &str>,
) -> Result<IpAddr, String> {
    let c = candidates(pools, s, ns_labels, v4)?;
    for p in &c {
        // The first free address is at most as far in as there are
        // addresses in use, so a huge IPv6 pool is not walked.
        let bound = (used.len() as u128).min(p.range.size() - 1);
        for i in 0..=bound {
            match p.range.nth(i) {
                Some(ip) if !used.contains_key(&ip) => return Ok(ip),
                Some(_) => {}
                None => break,
            }
        }
    }
    let names: Vec<&str> = c.iter().map(|p| p.name.as_str()).collect();
    Err(format!("pool {} is exhausted", names.join(", ")))
}

/// Checks that `ip`, asked for by `s`, is in a pool that may serve it and free.
fn take(
    pools: &[Pool],
    s: &Svc,
    ns_labels: &Labels,
    ip: IpAddr,
    used: &BTreeMap<IpAddr, &str>,
) -> Result<(), String> {
    let c = candidates_for(pools, s, ns_labels, ip)?;
    if c.is_none() {
        return Err(match s.pools.is_empty() {
            true => format!("address {ip} is not in any pool"),
            false => format!("address {ip} is not in pool {}", s.pools.join(", ")),
        });
    }
    match used.get(&ip) {
        Some(k) if *k != s.key => Err(format!("address {ip} is taken by {k}")),
        _ => Ok(()),
    }
}

/// The pool holding `ip` that may serve `s`: among those it names, else
/// among all pools (an address asked for needs no default pool).
fn candidates_for<'p>(
    pools: &'p [Pool],
    s: &Svc,
    ns_labels: &Labels,
    ip: IpAddr,
) -> Result<Option<&'p Pool>, String> {
    let holding: Vec<&Pool> = pools
        .iter()
        .filter(|p| p.range.contains(ip) && p.overlaps.is_none())
        .filter(|p| s.pools.is_empty() || s.pools.contains(&p.name))
        .collect();
    let Some(p) = holding.first() else {
        return Ok(None);
    };
    if p.disabled {
        return Err(format!("pool {} is disabled", p.name));
    }
    if !p.allows(&s.namespace, ns_labels) {
        return Err(format!(
            "pool {} is not allowed in namespace {}",
            p.name, s.namespace
        ));
    }
    Ok(Some(p))
}

#[cfg(test)]
#[path = "alloc_tests.rs"]
mod tests;
