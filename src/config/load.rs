//! Reading a config: the file, the document's shape, the checks across
//! values (each error with the file, line and problem), and the peers'
//! key files. All of it runs before anything changes, so a bad file is
//! refused whole and a bad reload keeps the running config.
use super::*;
use tr::line_of;

/// Reads a config or VIP file (regular, at most 64 MiB), or says why not.
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    crate::files::read_text(path, crate::files::CONFIG_CAP).map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: e.line(),
        problem: e.to_string(),
    })
}

impl Config {
    /// The document's shape and types; the checks across values follow.
    fn read(text: &str) -> tr::Result<Config> {
        let doc = tr::document(text)?;
        let t = Table::new(
            &doc,
            &[
                "vips_file",
                "bgp",
                "node",
                "control",
                "kubernetes",
                "peer",
                "vip",
                "host",
            ],
        )?;
        fn all<T: FromValue>(t: &Table<'_, '_>, key: &str) -> tr::Result<Vec<T>> {
            t.tables(key)?.into_iter().map(T::from_value).collect()
        }
        let peers: Vec<Spanned<PeerConfig>> = all(&t, "peer")?;
        let vips: Vec<Spanned<VipConfig>> = all(&t, "vip")?;
        // A host of layer-2 VIPs only speaks no BGP, and needs no [bgp].
        let l2_only =
            peers.is_empty() && !vips.is_empty() && vips.iter().all(|v| v.get_ref().is_l2());
        let cluster = t.raw("kubernetes").is_some() || l2_only;
        if t.raw("bgp").is_none() && !cluster {
            // Not at any line: the whole file lacks it.
            return Err(tr::Error {
                at: usize::MAX,
                problem: "missing table [bgp]".into(),
            });
        }
        let bgp: BgpConfig = t.or("bgp", BgpConfig::default())?;
        if bgp.asn.is_none() && !cluster {
            return Err(tr::Error {
                at: t.raw("bgp").map_or(usize::MAX, |b| b.span().start),
                problem: "[bgp] needs asn (only in cluster mode may OpenELB's BgpConf give it)"
                    .into(),
            });
        }
        Ok(Config {
            vips_file: t.get("vips_file")?,
            bgp,
            node: t.or("node", NodeConfig::default())?,
            control: t.or("control", ControlConfig::default())?,
            kubernetes: t.get("kubernetes")?,
            peers,
            vips,
            hosts: all(&t, "host")?,
        })
    }
}

impl Config {
    /// Parses and validates. `file` names the source in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let err = |line: usize, problem: String| ConfigError {
            file: file.to_string(),
            line,
            problem,
        };
        let cfg = Config::read(text).map_err(|e| err(line_of(text, e.at), e.problem))?;
        for (k, v) in &cfg.node.labels {
            labels::check_key(k)
                .and_then(|()| labels::check_value(v))
                .map_err(|p| err(0, format!("node.labels: {p}")))?;
        }
        let mut seen: BTreeMap<(IpAddr, u16), usize> = BTreeMap::new();
        let mut lines = tr::Lines::new(text);
        for p in &cfg.peers {
            let line = lines.line(p.span().start);
            let perr =
                |problem: String| err(line, format!("peer {}: {problem}", p.get_ref().address));
            let pc = p.get_ref();
            if let Some(first) = seen.insert((pc.address, pc.port), line) {
                return Err(perr(format!("configured twice (first at line {first})")));
            }
            // In cluster mode the BgpConf's listenPort may open the listener.
            if pc.passive && cfg.bgp.listen.is_none() && cfg.kubernetes.is_none() {
                return Err(perr(
                    "passive = true needs [bgp] listen, or no connection can ever come up".into(),
                ));
            }
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for h in &cfg.hosts {
            let line = lines.line(h.span().start);
            let hc = h.get_ref();
            if let Some(first) = names.insert(hc.name.as_str(), line) {
                return Err(err(
                    line,
                    format!(
                        "host {} is configured twice (first at line {first})",
                        hc.name
                    ),
                ));
            }
            hc.validate()
                .map_err(|e| err(line, format!("host {}: {e}", hc.name)))?;
        }
        let mut vips: BTreeMap<Prefix, usize> = BTreeMap::new();
        #[cfg(feature = "l2")]
        let mut vrids: BTreeMap<(&str, u8, bool), usize> = BTreeMap::new();
        for v in &cfg.vips {
            let line = lines.line(v.span().start);
            let vc = v.get_ref();
            #[cfg(feature = "l2")]
            if let Some(l2) = &vc.l2 {
                let (host, v4) = match vc.prefix {
                    Prefix::V4 { len, .. } => (len == 32, true),
                    Prefix::V6 { len, .. } => (len == 128, false),
                };
                if !host {
                    return Err(err(
                        line,
                        format!(
                            "vip {}: a layer-2 VIP is one address (/32 or /128)",
                            vc.prefix
                        ),
                    ));
                }
                // One virtual router per VRID, interface and family
                // (RFC 5798 lets IPv4 and IPv6 reuse a VRID).
                if let Some(first) = vrids.insert((l2.interface.as_str(), l2.vrid, v4), line) {
                    return Err(err(
                        line,
                        format!(
                            "vip {}: vrid {} on {} is taken by the vip at line {first}",
                            vc.prefix, l2.vrid, l2.interface
                        ),
                    ));
                }
            }
            if let Some(first) = vips.insert(vc.prefix, line) {
                return Err(err(
                    line,
                    format!(
                        "vip {} is configured twice (first at line {first})",
                        vc.prefix
                    ),
                ));
            }
            if let Some(why) = crate::vip_scope::refuse(&vc.prefix) {
                return Err(err(
                    line,
                    format!("vip {} is {why}, never a service address", vc.prefix),
                ));
            }
            let room = vc.communities.len() * 4 + vc.large_communities.len() * 12;
            if room > COMMUNITY_BYTES {
                return Err(err(
                    line,
                    format!(
                        "vip {}: its communities take {room} bytes; at most {COMMUNITY_BYTES} fit in an \
                         UPDATE that every peer can take (4,096 bytes without RFC 8654)",
                        vc.prefix
                    ),
                ));
            }
            if vc.next_hop == NextHopSpec::Hosts && cfg.hosts.is_empty() {
                return Err(err(
                    line,
                    format!(
                        "vip {}: next_hop = \"hosts\" but no [[host]] is configured",
                        vc.prefix
                    ),
                ));
            }
            if let NextHopSpec::Address(a) = vc.next_hop {
                if a.is_ipv4() != matches!(vc.prefix, Prefix::V4 { .. }) {
                    return Err(err(
                        line,
                        format!("vip {}: next_hop {a} is not of the VIP's family", vc.prefix),
                    ));
                }
            }
        }
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = read_file(path)?;
        let mut cfg = Config::parse(&name, &text)?;
        cfg.read_keys(&name, &text)?;
        #[cfg(feature = "l2")]
        cfg.check_links(&name, &text, &crate::l2::links::read())?;
        Ok(cfg)
    }

    /// Every layer-2 VIP's interface exists, and the VIP is inside one of
    /// its subnets; a bad one names its line.
    #[cfg(feature = "l2")]
    pub fn check_links(
        &self,
        file: &str,
        text: &str,
        links: &[crate::l2::links::Link],
    ) -> Result<(), ConfigError> {
        let mut lines = tr::Lines::new(text);
        for v in &self.vips {
            let line = lines.line(v.span().start);
            let vc = v.get_ref();
            let Some(l2) = &vc.l2 else { continue };
            crate::l2::links::check(links, &l2.interface, vc.prefix.addr()).map_err(|e| {
                ConfigError {
                    file: file.to_string(),
                    line,
                    problem: format!("vip {}: {e}", vc.prefix),
                }
            })?;
        }
        Ok(())
    }

    /// Reads every peer's `password_file`; a bad one names the peer's line.
    fn read_keys(&mut self, file: &str, text: &str) -> Result<(), ConfigError> {
        let mut lines = tr::Lines::new(text);
        for p in &mut self.peers {
            let line = lines.line(p.span().start);
            let pc = p.get_mut();
            let Some(f) = &pc.password_file else { continue };
            let (key, world_readable) = crate::keys::read(f).map_err(|e| ConfigError {
                file: file.to_string(),
                line,
                problem: format!("peer {}: password_file {}: {e}", pc.address, f.display()),
            })?;
            if world_readable {
                tracing::warn!(
                    "{file}:{line}: peer {}: password_file {} is readable by every user: chmod o-r it",
                    pc.address,
                    f.display()
                );
            }
            pc.md5_key = Some(key);
        }
        Ok(())
    }
}
