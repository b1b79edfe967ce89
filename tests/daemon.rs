//! The daemon's decisions replayed: scripted inputs into the pure core
//! (`leafvip::daemon`) and the effects they make, with no socket, task,
//! clock or root. Reconcile, a relabel, reloads, a drain, stops and
//! restarts, and (with `kube`) a BgpConf change and a Service event.
use leafvip::config::Config;
#[cfg(feature = "bfd")]
use leafvip::daemon::BfdChange;
use leafvip::daemon::{Core, Ctl, Effect, Input, Loaded, Notify, Now, Start};
use leafvip::plan::PeerPlan;
use leafvip_bgp::session::SessionConfig;
use leafvip_bgp::wire::{cease, Prefix};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const LEAF1: &str = "198.51.100.1";
const LEAF2: &str = "203.0.113.1";

/// Two leaves, each selected by the rack label, and two VIPs.
fn config(rack: &str, extra: &str) -> String {
    format!(
        "[bgp]\nasn = 65100\nrouter_id = \"198.51.100.3\"\n{extra}\n\
         [node]\nname = \"host-1\"\nlabels = {{ rack = \"{rack}\" }}\n\n\
         [[peer]]\naddress = \"{LEAF1}\"\nasn = 65001\n\
         node_selector = {{ match_labels = {{ rack = \"leaf1\" }} }}\n\n\
         [[peer]]\naddress = \"{LEAF2}\"\nasn = 65002\n\
         node_selector = {{ match_labels = {{ rack = \"leaf2\" }} }}\n\n\
         [[vip]]\nprefix = \"192.0.2.10/32\"\n\n[[vip]]\nprefix = \"192.0.2.11/32\"\n"
    )
}

fn loaded(text: &str) -> Loaded {
    let cfg = Config::parse("test.toml", text).unwrap();
    let labels = cfg.labels().unwrap();
    let vips = Arc::new(cfg.vip_list().unwrap());
    Loaded { cfg, labels, vips }
}

/// A core and the script's clock.
struct Replay {
    core: Core,
    t0: Instant,
    now: Duration,
    established: usize,
    l2_owned: usize,
}

impl Replay {
    fn new(text: &str) -> (Replay, Vec<Effect>) {
        Replay::after(text, None)
    }

    /// `restarted`: this start follows a restart, with these VIPs down.
    fn after(text: &str, restarted: Option<Vec<Prefix>>) -> (Replay, Vec<Effect>) {
        let t0 = Instant::now();
        let start = Start {
            loaded: loaded(text),
            host_ipv4: Some(Ipv4Addr::new(198, 51, 100, 3)),
            pid: 1000,
            restarted,
        };
        let mut r = Replay {
            core: Core::new(t0, start),
            t0,
            now: Duration::ZERO,
            established: 0,
            l2_owned: 0,
        };
        let first = r.core.start(r.at());
        (r, first)
    }

    fn at(&self) -> Now {
        Now {
            at: self.t0 + self.now,
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + self.now,
            established: self.established,
            l2_owned: self.l2_owned,
        }
    }

    fn apply(&mut self, input: Input) -> Vec<Effect> {
        self.core.apply(self.at(), input)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// A reload: asked for, then the load finishing with `text`.
    fn reload(&mut self, text: &str) -> Vec<Effect> {
        let asked = self.apply(Input::Reload("SIGHUP"));
        assert_eq!(asked, [Effect::Notify(Notify::Reloading), Effect::Load]);
        self.apply(Input::Loaded {
            result: Box::new(Ok(loaded(text))),
            host_ipv4: Some(Ipv4Addr::new(198, 51, 100, 3)),
        })
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn started(effects: &[Effect]) -> Vec<(IpAddr, &SessionConfig, &PeerPlan)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Start { plan, session } => Some((plan.peer.address, &**session, &**plan)),
            _ => None,
        })
        .collect()
}

fn closed(effects: &[Effect]) -> Vec<(IpAddr, u8)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Close { peer, subcode, .. } => Some((peer.0, *subcode)),
            _ => None,
        })
        .collect()
}

fn plans(effects: &[Effect]) -> Vec<&PeerPlan> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Plan(p) => Some(&**p),
            _ => None,
        })
        .collect()
}

fn status(effects: &[Effect]) -> Option<&str> {
    effects.iter().find_map(|e| match e {
        Effect::Notify(Notify::Status(s)) => Some(s.as_str()),
        _ => None,
    })
}

#[test]
fn the_first_plan_starts_the_selected_peer_only() {
    let (r, first) = Replay::new(&config("leaf1", ""));
    let s = started(&first);
    assert_eq!(s.len(), 1, "{first:?}");
    let (peer, session, plan) = s[0];
    assert_eq!(peer, ip(LEAF1));
    assert_eq!((session.local_as, session.remote_as), (65100, 65001));
    assert_eq!(session.bgp_id, Ipv4Addr::new(198, 51, 100, 3));
    assert_eq!(plan.vips.len(), 2);
    assert!(!plan.drain);
    // Not a restart: the Restart State bit is clear.
    assert!(!session.graceful_restart.as_ref().unwrap().restarting);
    assert!(closed(&first).is_empty());
    assert!(first.contains(&Effect::HostChecks) && first.contains(&Effect::VipChecks));
    assert!(first.contains(&Effect::Rekey));
    assert_eq!(first.last(), Some(&Effect::Show));
    assert_eq!(status(&first), Some("0/1 sessions established, 2 VIPs"));
    // The other leaf is shown with why it was not selected.
    let shown = r.core.shown();
    assert_eq!(shown.unselected.len(), 1);
    assert_eq!(shown.unselected[0].peer, format!("{LEAF2}:179"));
    assert!(
        shown.unselected[0].reason.contains("rack"),
        "{:?}",
        shown.unselected
    );
    assert_eq!(shown.base.asn, 65100);
    assert_eq!(r.core.keys().count(), 1);
    assert_eq!(r.core.poll_at(), None);
}

#[test]
fn a_relabel_moves_the_session_to_the_other_leaf() {
    let (mut r, _) = Replay::new(&config("leaf1", ""));
    let out = r.reload(&config("leaf2", ""));
    assert_eq!(closed(&out), [(ip(LEAF1), cease::PEER_DECONFIGURED)]);
    let s = started(&out);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].0, s[0].1.remote_as), (ip(LEAF2), 65002));
    assert!(out.contains(&Effect::Reloaded));
    assert!(out.contains(&Effect::Notify(Notify::Ready(
        "0/1 sessions established, 2 VIPs".into()
    ))));
    let shown = r.core.shown();
    assert_eq!(shown.unselected[0].peer, format!("{LEAF1}:179"));
    assert!(matches!(&shown.last_reload, Some((_, Ok(why))) if why == "SIGHUP"));
}

#[test]
fn a_reload_that_changes_only_the_vips_keeps_the_session() {
    let (mut r, _) = Replay::new(&config("leaf1", ""));
    let text = config("leaf1", "").replace("192.0.2.11/32", "192.0.2.12/32");
    let out = r.reload(&text);
    assert!(
        closed(&out).is_empty() && started(&out).is_empty(),
        "{out:?}"
    );
    let p = plans(&out);
    assert_eq!(p.len(), 1);
    let prefixes: Vec<String> = p[0].vips.iter().map(|v| v.prefix.to_string()).collect();
    assert_eq!(prefixes, ["192.0.2.10/32", "192.0.2.12/32"]);
    // The same plan again changes nothing.
    let out = r.reload(&text);
    assert!(plans(&out).is_empty() && closed(&out).is_empty(), "{out:?}");
}

#[test]
fn an_open_change_restarts_the_session_with_a_config_change_cease() {
    let (mut r, _) = Replay::new(&config("leaf1", ""));
    let out = r.reload(&config("leaf1", "").replace("asn = 65100", "asn = 65101"));
    assert_eq!(closed(&out), [(ip(LEAF1), cease::OTHER_CONFIG_CHANGE)]);
    let s = started(&out);
    assert_eq!((s[0].0, s[0].1.local_as), (ip(LEAF1), 65101));
    // The Close comes before the new session's Start.
    let close = out.iter().position(|e| matches!(e, Effect::Close { .. }));
    let start = out.iter().position(|e| matches!(e, Effect::Start { .. }));
    assert!(close < start);
}

#[test]
fn a_failed_reload_keeps_everything_and_a_burst_makes_one_more_load() {
    let (mut r, _) = Replay::new(&config("leaf1", ""));
    assert_eq!(r.apply(Input::Reload("SIGHUP")).len(), 2);
    assert!(r.core.loading());
    // Requests meanwhile are remembered, not queued.
    assert!(r.apply(Input::Reload("SIGHUP")).is_empty());
    assert!(r.apply(Input::Reload("labels file changed")).is_empty());
    let bad = Config::parse("test.toml", "[bgp]\nasn = \"x\"\n").unwrap_err();
    let out = r.apply(Input::Loaded {
        result: Box::new(Err(bad)),
        host_ipv4: None,
    });
    assert!(closed(&out).is_empty() && started(&out).is_empty() && plans(&out).is_empty());
    assert!(!out.contains(&Effect::Reloaded));
    assert!(matches!(&r.core.shown().last_reload, Some((_, Err(e))) if e.contains("test.toml")));
    // One more load, for the last request.
    assert!(out.ends_with(&[
        Effect::Notify(Notify::Reloading),
        Effect::Load,
        Effect::Show
    ]));
    assert_eq!(r.core.keys().count(), 1);
    // A load nobody asked for is ignored.
    let out = r.apply(Input::Loaded {
        result: Box::new(Ok(loaded(&config("leaf2", "")))),
        host_ipv4: None,
    });
    assert!(started(&out).len() == 1);
    let out = r.apply(Input::Loaded {
        result: Box::new(Ok(loaded(&config("leaf1", "")))),
        host_ipv4: None,
    });
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_maintenance_drain_re_announces_with_graceful_shutdown_and_undrain_ends_it() {
    let (mut r, _) = Replay::new(&config("leaf1", ""));
    let out = r.apply(Input::Control(Ctl::Drain));
    let p = plans(&out);
    assert_eq!(p.len(), 1);
    assert!(p[0].drain);
    assert!(closed(&out).is_empty());
    assert_eq!(
        status(&out),
        Some("0/1 sessions established, 2 VIPs, draining (maintenance)")
    );
    assert!(r.core.shown().base.draining.is_some());
    // Again: nothing new.
    assert!(plans(&r.apply(Input::Control(Ctl::Drain))).is_empty());
    let out = r.apply(Input::Control(Ctl::Undrain));
    assert!(!plans(&out)[0].drain);
    assert!(r.core.shown().base.draining.is_none());
    // A stop while in maintenance stops at once: the traffic moved already.
    r.apply(Input::Control(Ctl::Drain));
    r.established = 1;
    assert!(r.apply(Input::Stop).contains(&Effect::Shutdown));
}

#[test]
fn a_stop_drains_for_drain_time_then_shuts_down_and_a_second_signal_cuts_it_short() {
    let (mut r, _) = Replay::new(&config("leaf1", "drain_time = 5"));
    // Nothing established: nothing to drain.
    assert!(r.clone_stop().contains(&Effect::Shutdown));
    r.established = 1;
    let out = r.apply(Input::Stop);
    assert!(!out.contains(&Effect::Shutdown));
    assert!(out.contains(&Effect::Notify(Notify::Stopping)));
    assert!(plans(&out)[0].drain);
    let end = r.t0 + Duration::from_secs(5);
    assert_eq!(r.core.poll_at(), Some(end));
    // Early: nothing.
    r.advance(Duration::from_secs(4));
    assert!(r.apply(Input::Timer).is_empty());
    r.advance(Duration::from_secs(1));
    assert_eq!(r.apply(Input::Timer), [Effect::Shutdown]);
    // A second signal during the drain stops at once.
    let (mut r, _) = Replay::new(&config("leaf1", "drain_time = 5"));
    r.established = 1;
    r.apply(Input::Stop);
    assert_eq!(r.apply(Input::Stop), [Effect::Shutdown]);
}

impl Replay {
    /// A stop on a copy of this script's start (the core is not Clone).
    fn clone_stop(&self) -> Vec<Effect> {
        let (mut r, _) = Replay::new(&config("leaf1", "drain_time = 5"));
        r.established = self.established;
        r.apply(Input::Stop)
    }
}

#[test]
fn a_restart_exits_without_a_notification_and_names_the_vips_down() {
    let checked = config("leaf1", "").replace(
        "prefix = \"192.0.2.11/32\"\n",
        "prefix = \"192.0.2.11/32\"\ncheck = { tcp = \"127.0.0.1:9\", interval = \"1s\" }\n",
    );
    let (mut r, first) = Replay::new(&checked);
    // A checked VIP starts down: nothing unverified is announced.
    let vips: Vec<String> = started(&first)[0]
        .2
        .vips
        .iter()
        .filter(|v| !v.withdrawn)
        .map(|v| v.prefix.to_string())
        .collect();
    assert_eq!(vips, ["192.0.2.10/32"]);
    assert_eq!(r.core.shown().base.vip_checks_down, 1);
    let out = r.apply(Input::Control(Ctl::Restart));
    let down: Prefix = "192.0.2.11/32".parse().unwrap();
    assert_eq!(out, [Effect::Restart { down: vec![down] }]);
    // Once the check passes, nothing is down at the restart.
    r.apply(Input::Vip(down, true));
    assert_eq!(
        r.apply(Input::Control(Ctl::Restart)),
        [Effect::Restart { down: vec![] }]
    );
}

#[test]
fn after_a_restart_sessions_set_the_restart_state_bit_and_the_vips_up_stay_up() {
    let checked = config("leaf1", "graceful_restart = 60").replace(
        "prefix = \"192.0.2.11/32\"\n",
        "prefix = \"192.0.2.11/32\"\ncheck = { tcp = \"127.0.0.1:9\", interval = \"1s\" }\n",
    );
    let (mut r, first) = Replay::after(&checked, Some(vec![]));
    let (_, session, plan) = started(&first)[0];
    assert!(session.graceful_restart.as_ref().unwrap().restarting);
    // The predecessor had the checked VIP up: it is announced at once.
    assert!(plan.vips.iter().all(|v| !v.withdrawn));
    // A session started after the restart time no longer sets the bit.
    r.advance(Duration::from_secs(61));
    let out = r.reload(&checked.replace("asn = 65100", "asn = 65101"));
    assert!(
        !started(&out)[0]
            .1
            .graceful_restart
            .as_ref()
            .unwrap()
            .restarting
    );
}

#[cfg(feature = "bfd")]
#[test]
fn bfd_settings_change_in_place_and_a_restart_with_bfd_drains_first() {
    let bfd = |t: &str| {
        config("leaf1", "drain_time = 3").replace(
            "asn = 65001\n",
            &format!(
                "asn = 65001\nbfd = {{ min_rx = \"{t}\", min_tx = \"{t}\", multiplier = 3 }}\n"
            ),
        )
    };
    let (mut r, _) = Replay::new(&config("leaf1", "drain_time = 3"));
    // BFD added to a running session: no flap, the session is guarded.
    let out = r.reload(&bfd("100ms"));
    assert!(
        closed(&out).is_empty() && started(&out).is_empty(),
        "{out:?}"
    );
    assert!(matches!(out.iter().find(|e| matches!(e, Effect::Bfd(..))),
        Some(Effect::Bfd(p, BfdChange::Add { .. })) if *p == ip(LEAF1)));
    // New timers: a Poll Sequence, still no flap.
    let out = r.reload(&bfd("300ms"));
    assert!(closed(&out).is_empty());
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Bfd(_, BfdChange::Configure(c)) if c.min_rx == Duration::from_millis(300))));
    // A restart with BFD drains first (BIRD drops routes on AdminDown).
    r.established = 1;
    let out = r.apply(Input::Control(Ctl::Restart));
    assert!(!out.iter().any(|e| matches!(e, Effect::Restart { .. })));
    assert!(plans(&out)[0].drain);
    r.advance(Duration::from_secs(3));
    assert_eq!(r.apply(Input::Timer), [Effect::Restart { down: vec![] }]);
    // BFD removed: released, no flap.
    let (mut r, _) = Replay::new(&bfd("100ms"));
    let out = r.reload(&config("leaf1", "drain_time = 3"));
    assert!(closed(&out).is_empty());
    assert!(out.contains(&Effect::Bfd(ip(LEAF1), BfdChange::Remove)));
}

#[test]
fn a_host_check_takes_the_host_out_of_the_next_hops_and_back() {
    let text = config("leaf1", "").replace(
        "[[vip]]\nprefix = \"192.0.2.10/32\"\n",
        "[[host]]\nname = \"web1\"\naddress = \"198.51.100.7\"\nlabels = { rack = \"leaf1\" }\n\
         check = { tcp = \"198.51.100.7:80\", interval = \"1s\" }\n\n\
         [[vip]]\nprefix = \"192.0.2.10/32\"\nnext_hop = \"hosts\"\n",
    );
    let (mut r, first) = Replay::new(&text);
    let hosts = |p: &PeerPlan| p.hosts.len();
    assert_eq!(hosts(started(&first)[0].2), 0);
    assert_eq!(
        r.core
            .host_checks()
            .map(|(n, _, up)| (n, up))
            .collect::<Vec<_>>(),
        [("web1", false)]
    );
    let out = r.apply(Input::Host("web1".into(), true));
    assert_eq!(hosts(plans(&out)[0]), 1);
    assert_eq!(r.core.shown().hosts_up, (1, 1));
    let out = r.apply(Input::Host("web1".into(), false));
    assert_eq!(hosts(plans(&out)[0]), 0);
}

#[cfg(feature = "kube")]
mod cluster {
    use super::*;
    use leafvip::daemon::cluster::{KubeEvent, Object, ServicesView};
    use serde_json::json;

    fn cluster_config() -> String {
        format!(
            "[node]\nname = \"host-1\"\nlabels = {{ rack = \"leaf1\" }}\n\
             [kubernetes]\nkubeconfig = \"/dev/null\"\n\n\
             [[peer]]\naddress = \"{LEAF1}\"\nasn = 65001\n\n\
             [[vip]]\nprefix = \"192.0.2.10/32\"\n"
        )
    }

    fn conf(spec: serde_json::Value) -> Input {
        Input::Cluster {
            event: KubeEvent::Conf(Some(Object {
                name: "default".into(),
                uid: "u1".into(),
                version: "1".into(),
                spec,
            })),
            host_ipv4: Some(Ipv4Addr::new(198, 51, 100, 3)),
        }
    }

    #[test]
    fn a_bgpconf_brings_the_sessions_and_a_change_restarts_them_a_bad_one_changes_nothing() {
        let (mut r, first) = Replay::new(&cluster_config());
        // No local AS yet: waiting, no session.
        assert!(started(&first).is_empty());
        assert!(r.core.shown().base.waiting.is_some());
        let out = r.apply(conf(
            json!({"as": 65100, "routerId": "198.51.100.3", "listenPort": 179}),
        ));
        assert!(out
            .iter()
            .any(|e| matches!(e, Effect::Listen(a) if a.len() == 1)));
        assert_eq!(started(&out)[0].1.local_as, 65100);
        assert!(r.core.shown().base.waiting.is_none());
        // A new AS: the session restarts with it.
        let out = r.apply(conf(
            json!({"as": 65101, "routerId": "198.51.100.3", "listenPort": 179}),
        ));
        assert_eq!(closed(&out), [(ip(LEAF1), cease::OTHER_CONFIG_CHANGE)]);
        assert_eq!(started(&out)[0].1.local_as, 65101);
        // A bad one: a Warning Event, the last good one stays.
        let out = r.apply(conf(json!({"as": "many"})));
        assert!(closed(&out).is_empty() && started(&out).is_empty());
        let ev = out.iter().find_map(|e| match e {
            Effect::Event(e) => Some(e),
            _ => None,
        });
        let ev = ev.expect("a Warning Event");
        assert_eq!(
            (ev.kind, ev.name.as_str(), ev.reason),
            ("BgpConf", "default", "InvalidSpec")
        );
        assert!(ev.message.contains("spec.as"), "{}", ev.message);
        // The same problem again is not reported again.
        let out = r.apply(conf(json!({"as": "many"})));
        assert!(!out.iter().any(|e| matches!(e, Effect::Event(_))));
        assert_eq!(r.core.global().unwrap().asn, 65101);
    }

    #[test]
    fn a_service_address_is_announced_on_the_running_session() {
        let (mut r, _) = Replay::new(&cluster_config());
        r.apply(conf(json!({"as": 65100, "routerId": "198.51.100.3"})));
        let view = ServicesView {
            addrs: vec![(ip("203.0.113.50"), Default::default())],
            total: 1,
            ..Default::default()
        };
        let services = |view: ServicesView| Input::Cluster {
            event: KubeEvent::Services(Box::new(view)),
            host_ipv4: None,
        };
        let out = r.apply(services(view.clone()));
        assert!(closed(&out).is_empty() && started(&out).is_empty());
        let p = plans(&out);
        let prefixes: Vec<String> = p[0].vips.iter().map(|v| v.prefix.to_string()).collect();
        assert_eq!(prefixes, ["192.0.2.10/32", "203.0.113.50/32"]);
        let c = r.core.shown().base.cluster.clone().unwrap();
        assert_eq!((c.service_addresses, c.announce_changes), (1, 1));
        // The same view again: no new plan.
        assert!(plans(&r.apply(services(view))).is_empty());
        // Gone: withdrawn.
        let out = r.apply(services(ServicesView::default()));
        assert_eq!(plans(&out)[0].vips.len(), 1);
    }

    /// A layer-2 Service address becomes a VRRP router for the speaker,
    /// not a BGP route; a drain hands it over; gone from the view, it is
    /// given up.
    #[cfg(feature = "l2")]
    #[test]
    fn a_layer2_service_address_is_answered_not_announced() {
        use leafvip::l2::speaker::{Hold, Want};
        use leafvip::lb::layer2::L2Addr;
        let (mut r, _) = Replay::new(&cluster_config());
        r.apply(conf(json!({"as": 65100, "routerId": "198.51.100.3"})));
        let view = ServicesView {
            l2: vec![L2Addr {
                addr: ip("198.51.100.10"),
                interface: "eth0".into(),
                vrid: 10,
                priority: 77,
                service: "default/web".into(),
                uid: "u1".into(),
            }],
            total: 1,
            ..Default::default()
        };
        let services = |view: ServicesView| Input::Cluster {
            event: KubeEvent::Services(Box::new(view)),
            host_ipv4: None,
        };
        let told = |out: &[Effect]| -> Option<Vec<Want>> {
            out.iter().rev().find_map(|e| match e {
                Effect::L2(w) => Some(w.clone()),
                _ => None,
            })
        };
        let out = r.apply(services(view.clone()));
        let w = told(&out).expect("the speaker told");
        assert_eq!(w.len(), 1);
        assert_eq!(
            (
                w[0].vip,
                w[0].cfg.interface.as_str(),
                w[0].cfg.vrid,
                w[0].hold
            ),
            (ip("198.51.100.10"), "eth0", 10, Hold::Run(77))
        );
        assert_eq!(
            (w[0].cfg.interval, w[0].service.as_str()),
            (10, "default/web")
        );
        // Not a BGP route.
        for p in plans(&out) {
            assert!(p
                .vips
                .iter()
                .all(|v| v.prefix.to_string() != "198.51.100.10/32"));
        }
        // The same view: nothing new.
        assert!(told(&r.apply(services(view.clone()))).is_none());
        // Taking it over: a Normal Event on the Service names this node,
        // once in 10 s.
        let ev = |out: &[Effect]| -> Vec<String> {
            out.iter()
                .filter_map(|e| match e {
                    Effect::Event(e) if e.reason == "nodeAssigned" => {
                        Some(format!("{}/{} {}", e.namespace, e.name, e.message))
                    }
                    _ => None,
                })
                .collect()
        };
        let took = r.apply(Input::L2Took(ip("198.51.100.10")));
        assert_eq!(
            ev(&took),
            ["default/web announcing 198.51.100.10 from node \"host-1\" with protocol \"layer2\""]
        );
        assert!(ev(&r.apply(Input::L2Took(ip("198.51.100.10")))).is_empty());
        r.advance(Duration::from_secs(11));
        assert_eq!(ev(&r.apply(Input::L2Took(ip("198.51.100.10")))).len(), 1);
        assert!(
            ev(&r.apply(Input::L2Took(ip("192.0.2.99")))).is_empty(),
            "not a Service's"
        );
        let w = told(&r.apply(Input::Control(Ctl::Drain))).unwrap();
        assert_eq!(w[0].hold, Hold::Drain);
        r.apply(Input::Control(Ctl::Undrain));
        let w = told(&r.apply(services(ServicesView::default()))).unwrap();
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_node_relabel_reselects_and_a_bgppeer_object_adds_a_peer() {
        let text = cluster_config().replace(
            "asn = 65001\n",
            "asn = 65001\nnode_selector = { match_labels = { zone = \"a\" } }\n",
        );
        let (mut r, _) = Replay::new(&text);
        r.apply(conf(json!({"as": 65100, "routerId": "198.51.100.3"})));
        assert_eq!(r.core.keys().count(), 0);
        let labels = |z: &str| Input::Cluster {
            event: KubeEvent::Labels([("zone".to_string(), z.to_string())].into_iter().collect()),
            host_ipv4: None,
        };
        assert_eq!(started(&r.apply(labels("a")))[0].0, ip(LEAF1));
        assert_eq!(
            closed(&r.apply(labels("b"))),
            [(ip(LEAF1), cease::PEER_DECONFIGURED)]
        );
        let peer = Object {
            name: "leaf2".into(),
            uid: "u2".into(),
            version: "7".into(),
            spec: json!({"conf": {"neighborAddress": LEAF2, "peerAs": 65002}}),
        };
        let out = r.apply(Input::Cluster {
            event: KubeEvent::Peers(vec![peer]),
            host_ipv4: None,
        });
        assert_eq!(started(&out)[0].0, ip(LEAF2));
        assert!(out.iter().any(|e| matches!(e, Effect::StatusNames(n) if n.get(&ip(LEAF2)).map(String::as_str) == Some("leaf2"))));
        assert_eq!(
            r.core.shown().base.cluster.as_ref().unwrap().bgp_peers_used,
            1
        );
    }
}

/// A BFD down, replayed from real BFD sessions: ours and the router's,
/// wired back to back; our client's verdicts go through the core's guard
/// to the BGP session's steps.
#[cfg(feature = "bfd")]
mod bfd_down {
    use leafvip::daemon::guard::{Guard, Step};
    use leafvip_bfd::session::{Action, Config, Event};
    use leafvip_bfd::{Client, Instant, Session};

    fn cfg() -> Config {
        Config {
            desired_min_tx: 100_000,
            required_min_rx: 100_000,
            detect_mult: 3,
            passive: false,
        }
    }

    struct Wire {
        ours: Session,
        theirs: Session,
        client: Client,
        guard: Guard,
        /// What the BGP session was told, and when (ms).
        steps: Vec<(u64, Step)>,
        us: u64,
    }

    impl Wire {
        fn new() -> Wire {
            Wire {
                ours: Session::new(cfg(), 1, 11, Instant::from_micros(0)),
                theirs: Session::new(cfg(), 2, 22, Instant::from_micros(0)),
                client: Client::new(),
                // A new guarded session waits for BFD.
                guard: Guard { held: true },
                steps: Vec::new(),
                us: 0,
            }
        }

        fn ours_did(&mut self, acts: Vec<Action>, router_up: bool) {
            if let Some(v) = self.client.observe(&self.ours) {
                if let Some(s) = self.guard.verdict(true, v) {
                    self.steps.push((self.us / 1000, s));
                }
            }
            for a in acts {
                if let (Action::Send(b), true) = (a, router_up) {
                    let now = Instant::from_micros(self.us);
                    let back = self.theirs.handle_event(
                        now,
                        Event::Received {
                            bytes: &b,
                            ttl: 255,
                        },
                    );
                    self.theirs_did(back);
                }
            }
        }

        fn theirs_did(&mut self, acts: Vec<Action>) {
            for a in acts {
                if let Action::Send(b) = a {
                    let now = Instant::from_micros(self.us);
                    let back = self.ours.handle_event(
                        now,
                        Event::Received {
                            bytes: &b,
                            ttl: 255,
                        },
                    );
                    self.ours_did(back, true);
                }
            }
        }

        /// Runs both sessions' timers until `ms`; the router is silent
        /// (dead) unless `router_up`.
        fn run(&mut self, ms: u64, router_up: bool) {
            let end = ms * 1000;
            loop {
                let ours = self.ours.poll_at().map(Instant::as_micros);
                let theirs = router_up
                    .then(|| self.theirs.poll_at().map(Instant::as_micros))
                    .flatten();
                let Some(next) = [ours, theirs].into_iter().flatten().min() else {
                    break;
                };
                if next > end {
                    break;
                }
                self.us = self.us.max(next);
                let now = Instant::from_micros(self.us);
                if ours == Some(next) {
                    let acts = self.ours.handle_event(now, Event::Timer);
                    self.ours_did(acts, router_up);
                } else {
                    let acts = self.theirs.handle_event(now, Event::Timer);
                    self.theirs_did(acts);
                }
            }
            self.us = end;
        }
    }

    #[test]
    fn bgp_starts_when_bfd_is_up_and_is_closed_within_the_detection_time_of_a_silent_router() {
        let mut w = Wire::new();
        w.run(3_000, true);
        assert_eq!(w.steps.len(), 1, "{:?}", w.steps);
        assert_eq!(w.steps[0].1, Step::Start);
        assert!(!w.guard.held);
        // The router dies at 5 s: 3 x 100 ms later, BGP is closed.
        w.run(5_000, true);
        w.run(6_000, false);
        assert_eq!(w.steps.len(), 2, "{:?}", w.steps);
        let (at, step) = w.steps[1];
        assert_eq!(step, Step::Down);
        assert!((5_000..=5_400).contains(&at), "closed at {at} ms");
        assert!(w.guard.held);
        // Repeated failures say nothing more; BFD back releases BGP once.
        w.run(8_000, false);
        assert_eq!(w.steps.len(), 2);
        w.theirs = Session::new(cfg(), 3, 33, leafvip_bfd::Instant::from_micros(w.us));
        w.run(12_000, true);
        assert_eq!(
            w.steps.last().map(|s| s.1),
            Some(Step::Start),
            "{:?}",
            w.steps
        );
        assert_eq!(w.steps.len(), 3);
    }

    #[test]
    fn bfd_removed_releases_a_held_session_and_an_unguarded_one_ignores_a_failure() {
        let mut g = Guard { held: true };
        assert_eq!(
            g.verdict(false, leafvip_bfd::Verdict::Release),
            Some(Step::Start)
        );
        assert_eq!(g.verdict(false, leafvip_bfd::Verdict::Hold), None);
        assert!(!g.held);
        assert_eq!(
            g.verdict(true, leafvip_bfd::Verdict::Hold),
            Some(Step::Down)
        );
        assert_eq!(g.verdict(true, leafvip_bfd::Verdict::Hold), None);
    }
}

/// Layer-2 VIPs: what the speaker is told through a check, a drain and a
/// stop, and that a stop hands over and waits while this host owns one.
#[cfg(feature = "l2")]
#[test]
fn layer2_vips_follow_checks_drain_and_stop() {
    use leafvip::l2::speaker::Hold;
    let text = "[node]\nname = \"host-1\"\n[bgp]\ndrain_time = 3\n\
                [[vip]]\nprefix = \"198.51.100.10/32\"\nmode = \"l2\"\ninterface = \"eth0\"\n\
                vrid = 10\npriority = 150\nadvert_interval = \"100ms\"\n\
                check = { tcp = \"127.0.0.1:9\", interval = \"1s\" }\ndown_priority = 50\n";
    // No [bgp] asn is needed for layer-2 VIPs alone.
    let (mut r, first) = Replay::new(text);
    let told = |out: &[Effect]| -> Vec<Hold> {
        out.iter()
            .filter_map(|e| match e {
                Effect::L2(w) => Some(w.iter().map(|w| w.hold).collect::<Vec<_>>()),
                _ => None,
            })
            .next_back()
            .unwrap_or_default()
    };
    // A checked VIP starts down: it takes part with down_priority.
    assert_eq!(told(&first), [Hold::Run(50)]);
    assert!(started(&first).is_empty(), "no BGP session");
    let vip: Prefix = "198.51.100.10/32".parse().unwrap();
    assert_eq!(told(&r.apply(Input::Vip(vip, true))), [Hold::Run(150)]);
    assert_eq!(told(&r.apply(Input::Control(Ctl::Drain))), [Hold::Drain]);
    assert_eq!(
        told(&r.apply(Input::Control(Ctl::Undrain))),
        [Hold::Run(150)]
    );
    // Owning the VIP, a stop hands it over and exits after drain_time.
    r.l2_owned = 1;
    let out = r.apply(Input::Stop);
    assert_eq!(told(&out), [Hold::Out]);
    assert!(!out.contains(&Effect::Shutdown));
    r.advance(Duration::from_secs(3));
    assert_eq!(r.apply(Input::Timer), [Effect::Shutdown]);
    // A restart hands over first as well.
    let (mut r, _) = Replay::new(text);
    r.apply(Input::Vip(vip, true));
    r.l2_owned = 1;
    let out = r.apply(Input::Control(Ctl::Restart));
    assert_eq!(told(&out), [Hold::Out]);
    assert!(!out.iter().any(|e| matches!(e, Effect::Restart { .. })));
    r.advance(Duration::from_secs(3));
    assert!(r
        .apply(Input::Timer)
        .iter()
        .any(|e| matches!(e, Effect::Restart { .. })));
}
