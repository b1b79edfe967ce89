//! LoadBalancer Services (cluster mode): OpenELB's Eip pools and
//! annotations, one allocator, and which Service addresses this node
//! announces. Pure, like `openelb`: objects in, decisions out; the
//! cluster thread (`runtime/kube/lb.rs`) feeds it and writes the results.
pub mod alloc;
pub mod announce;
#[cfg(feature = "l2")]
pub mod iface;
#[cfg(feature = "l2")]
pub mod layer2;
pub mod lease;
pub mod object;
#[cfg(feature = "l2")]
pub mod owners;
pub mod pool;
pub mod service;
