#!/usr/bin/env python3
"""Extract BGP messages from the pcaps written by capture.sh.

    python3 tests/vectors/extract.py WORKDIR OUTDIR [--list]
    python3 tests/vectors/extract.py --verify tests/vectors

Reads WORKDIR/*.pcap (classic libpcap, Ethernet or Linux cooked link type),
reassembles every TCP connection on port 179 per direction (by sequence
number, so retransmissions and overlaps are harmless), splits each byte
stream on the 16-byte marker + 2-byte length, decodes enough of every
message to describe it, and writes a de-duplicated selection to
OUTDIR/<sender>/<NN>-<kind>-<desc>.hex.

Per session the negotiated parameters (4-octet AS, ADD-PATH, extended
messages) are computed from the two OPEN messages seen on that connection.
Only the Python standard library is used.
"""
import ipaddress
import os
import re
import struct
import sys
from collections import defaultdict

# ------------------------------------------------------------------ topology
# address -> router name (must match capture.sh)
ROUTERS = {
    "192.0.2.1": "bird2", "2001:db8:a::1": "bird2",
    "203.0.113.1": "bird2", "2001:db8:b::1": "bird2",
    "192.0.2.2": "gobgp", "2001:db8:a::2": "gobgp",
    "203.0.113.5": "gobgp", "2001:db8:c::5": "gobgp",
    "203.0.113.2": "frr", "2001:db8:b::2": "frr",
    "203.0.113.6": "frr", "2001:db8:c::6": "frr",
    "198.51.100.249": "bird2", "198.51.100.250": "frr",
    "198.51.100.245": "gobgp", "198.51.100.246": "frr",
}
PKG = {"bird2": "bird2", "gobgp": "gobgpd", "frr": "frr"}

MARKER = b"\xff" * 16
KINDS = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}
AFI = {1: "ipv4", 2: "ipv6"}
SAFI = {1: "unicast", 2: "multicast", 128: "mpls-vpn"}


def fam(afi, safi):
    return "%s-%s" % (AFI.get(afi, "afi%d" % afi), SAFI.get(safi, "safi%d" % safi))


# ------------------------------------------------------------------ pcap
def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        en = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        en = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(en + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        ts, tfrac, incl, _orig = struct.unpack(en + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        yield ts + tfrac / (1e9 if nsec else 1e6), linktype, pkt


def parse_packet(linktype, pkt):
    """Return (src, sport, dst, dport, seq, flags, payload) or None."""
    if linktype == 1:  # Ethernet
        etype = struct.unpack("!H", pkt[12:14])[0]
        l3 = pkt[14:]
        while etype == 0x8100:
            etype = struct.unpack("!H", l3[2:4])[0]
            l3 = l3[4:]
    elif linktype == 113:  # Linux cooked v1
        etype = struct.unpack("!H", pkt[14:16])[0]
        l3 = pkt[16:]
    elif linktype == 276:  # Linux cooked v2
        etype = struct.unpack("!H", pkt[0:2])[0]
        l3 = pkt[20:]
    else:
        raise ValueError("unsupported link type %d" % linktype)
    if etype == 0x0800:
        ihl = (l3[0] & 0x0F) * 4
        total = struct.unpack("!H", l3[2:4])[0]
        if l3[9] != 6:
            return None
        src = str(ipaddress.IPv4Address(l3[12:16]))
        dst = str(ipaddress.IPv4Address(l3[16:20]))
        seg = l3[ihl:total]
    elif etype == 0x86DD:
        plen = struct.unpack("!H", l3[4:6])[0]
        if l3[6] != 6:
            return None
        src = str(ipaddress.IPv6Address(l3[8:24]))
        dst = str(ipaddress.IPv6Address(l3[24:40]))
        seg = l3[40:40 + plen]
    else:
        return None
    sport, dport, seq, _ack, offflags = struct.unpack("!HHIIH", seg[:14])
    doff = (offflags >> 12) * 4
    flags = offflags & 0x3F
    return src, sport, dst, dport, seq, flags, seg[doff:]


SYN, FIN, RST = 0x02, 0x01, 0x04


class Direction:
    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.isn = None
        self.segs = []  # (seq, ts, payload)

    def stream(self):
        """Reassemble; returns list of (offset, byte, ts) chunks merged into
        bytes plus a per-offset timestamp lookup for message ordering."""
        if not self.segs:
            return b"", []
        base = (self.isn + 1) & 0xFFFFFFFF if self.isn is not None else min(s for s, _, _ in self.segs)
        buf = bytearray()
        have = []
        stamps = []  # (end_offset, ts)
        for seq, ts, payload in sorted(self.segs, key=lambda x: ((x[0] - base) & 0xFFFFFFFF, x[1])):
            rel = (seq - base) & 0xFFFFFFFF
            if rel > len(buf):
                raise ValueError("gap in TCP stream %s -> %s at %d" % (self.src, self.dst, len(buf)))
            end = rel + len(payload)
            if end > len(buf):
                buf.extend(payload[len(buf) - rel:])
                stamps.append((end, ts))
        return bytes(buf), stamps


def connections(pcaps):
    conns = []  # each: dict with 'a', 'b' Direction and start ts
    current = {}  # 4-tuple -> conn
    for path in pcaps:
        for ts, lt, pkt in read_pcap(path):
            p = parse_packet(lt, pkt)
            if p is None:
                continue
            src, sport, dst, dport, seq, flags, payload = p
            if 179 not in (sport, dport):
                continue
            key = (src, sport, dst, dport)
            rkey = (dst, dport, src, sport)
            if flags & SYN and not (flags & 0x10):  # SYN without ACK: new connection
                c = {"start": ts, "dirs": {key: Direction((src, sport), (dst, dport)),
                                           rkey: Direction((dst, dport), (src, sport))}}
                conns.append(c)
                current[key] = current[rkey] = c
            c = current.get(key)
            if c is None:  # connection started before the capture
                c = {"start": ts, "dirs": {key: Direction((src, sport), (dst, dport)),
                                           rkey: Direction((dst, dport), (src, sport))}}
                conns.append(c)
                current[key] = current[rkey] = c
            d = c["dirs"][key]
            if flags & SYN:
                d.isn = seq
            if payload:
                d.segs.append((seq, ts, payload))
    return conns


def split_messages(data, stamps):
    msgs = []
    off = 0
    si = 0
    while off + 19 <= len(data):
        if data[off:off + 16] != MARKER:
            raise ValueError("lost BGP framing at offset %d" % off)
        ln = struct.unpack("!H", data[off + 16:off + 18])[0]
        if off + ln > len(data):
            break  # truncated at end of capture
        end = off + ln
        while si < len(stamps) and stamps[si][0] < end:
            si += 1
        ts = stamps[si][1] if si < len(stamps) else stamps[-1][1]
        msgs.append((ts, data[off:end]))
        off = end
    return msgs


# ------------------------------------------------------------------ decoding
CAPS = {1: "multiprotocol", 2: "route-refresh", 5: "extended-nexthop", 6: "extended-message",
        9: "bgp-role", 64: "graceful-restart", 65: "4-octet-as", 69: "add-path",
        70: "enhanced-route-refresh", 71: "long-lived-graceful-restart", 73: "fqdn",
        75: "software-version", 128: "route-refresh-old-cisco"}


def parse_open(msg):
    body = msg[19:]
    ver, my_as, hold = struct.unpack("!BHH", body[:5])
    bgp_id = str(ipaddress.IPv4Address(body[5:9]))
    optlen = body[9]
    params = body[10:10 + optlen]
    caps = []  # (code, value bytes)
    i = 0
    while i < len(params):
        ptype, plen = params[i], params[i + 1]
        pval = params[i + 2:i + 2 + plen]
        i += 2 + plen
        if ptype != 2:
            caps.append((-ptype, pval))
            continue
        j = 0
        while j < len(pval):
            code, clen = pval[j], pval[j + 1]
            caps.append((code, pval[j + 2:j + 2 + clen]))
            j += 2 + clen
    info = {"version": ver, "my_as": my_as, "hold": hold, "id": bgp_id, "caps": caps,
            "mp": set(), "as4": None, "addpath": {}, "extmsg": False}
    for code, v in caps:
        if code == 1:
            afi, _, safi = struct.unpack("!HBB", v)
            info["mp"].add(fam(afi, safi))
        elif code == 65:
            info["as4"] = struct.unpack("!I", v)[0]
        elif code == 69:
            for k in range(0, len(v), 4):
                afi, safi, sr = struct.unpack("!HBB", v[k:k + 4])
                info["addpath"][fam(afi, safi)] = sr  # 1 receive, 2 send, 3 both
        elif code == 6:
            info["extmsg"] = True
    return info


def describe_caps(info):
    out = []
    for code, v in info["caps"]:
        name = CAPS.get(code, "cap%d" % code)
        if code == 1:
            afi, _, safi = struct.unpack("!HBB", v)
            out.append("multiprotocol(%s)" % fam(afi, safi))
        elif code == 65:
            out.append("4-octet-as(%d)" % struct.unpack("!I", v)[0])
        elif code == 69:
            parts = []
            for k in range(0, len(v), 4):
                afi, safi, sr = struct.unpack("!HBB", v[k:k + 4])
                parts.append("%s:%s" % (fam(afi, safi), {1: "rx", 2: "tx", 3: "rx+tx"}.get(sr, sr)))
            out.append("add-path(%s)" % ",".join(parts))
        elif code in (64, 71):
            if code == 64:
                flags_time = struct.unpack("!H", v[:2])[0] if len(v) >= 2 else 0
                fl = []
                if flags_time & 0x8000:
                    fl.append("R")
                if flags_time & 0x4000:
                    fl.append("N")
                afs = [fam(*struct.unpack("!HB", v[k:k + 3])) + ("/F" if v[k + 3] & 0x80 else "")
                       for k in range(2, len(v) - 3, 4)]
                out.append("graceful-restart(time=%d%s%s)" % (
                    flags_time & 0x0FFF, ",flags=" + "".join(fl) if fl else "",
                    ",afs=" + "+".join(afs) if afs else ""))
            else:
                afs = [fam(*struct.unpack("!HB", v[k:k + 3])) for k in range(0, len(v), 7)]
                out.append("long-lived-graceful-restart(%s)" % "+".join(afs))
        elif code == 5:
            parts = []
            for k in range(0, len(v), 6):
                afi, safi, nhafi = struct.unpack("!HHH", v[k:k + 6])
                parts.append("%s via %s next hop" % (fam(afi, safi), AFI.get(nhafi, nhafi)))
            out.append("extended-nexthop(%s)" % ",".join(parts))
        elif code == 73:
            hl = v[0]
            host = v[1:1 + hl].decode(errors="replace")
            dl = v[1 + hl] if len(v) > 1 + hl else 0
            dom = v[2 + hl:2 + hl + dl].decode(errors="replace")
            out.append("fqdn(%s%s)" % (host, "." + dom if dom else ""))
        elif code < 0:
            out.append("optional-parameter-%d" % -code)
        else:
            out.append(name + ("(%s)" % v.hex() if v else ""))
    return out


def prefixes(data, afi, addpath):
    out = []
    i = 0
    while i < len(data):
        pid = None
        if addpath:
            pid = struct.unpack("!I", data[i:i + 4])[0]
            i += 4
        plen = data[i]
        nb = (plen + 7) // 8
        raw = data[i + 1:i + 1 + nb]
        i += 1 + nb
        full = raw + b"\x00" * ((4 if afi == 1 else 16) - nb)
        addr = ipaddress.IPv4Address(full) if afi == 1 else ipaddress.IPv6Address(full)
        out.append("%s/%d%s" % (addr, plen, "" if pid is None else " (path-id %d)" % pid))
    return out


ATTRS = {1: "ORIGIN", 2: "AS_PATH", 3: "NEXT_HOP", 4: "MULTI_EXIT_DISC", 5: "LOCAL_PREF",
         6: "ATOMIC_AGGREGATE", 7: "AGGREGATOR", 8: "COMMUNITIES", 9: "ORIGINATOR_ID",
         10: "CLUSTER_LIST", 14: "MP_REACH_NLRI", 15: "MP_UNREACH_NLRI",
         16: "EXTENDED_COMMUNITIES", 17: "AS4_PATH", 18: "AS4_AGGREGATOR",
         32: "LARGE_COMMUNITY", 35: "OTC"}


def aspath(v, four):
    segs = []
    i = 0
    w = 4 if four else 2
    while i < len(v):
        st, n = v[i], v[i + 1]
        asns = [int.from_bytes(v[i + 2 + k * w:i + 2 + (k + 1) * w], "big") for k in range(n)]
        i += 2 + n * w
        s = " ".join(map(str, asns))
        segs.append("{%s}" % s if st == 1 else s)
    return " ".join(segs) if segs else "(empty)"


def nexthop(v):
    if len(v) == 4:
        return str(ipaddress.IPv4Address(v))
    if len(v) == 16:
        return str(ipaddress.IPv6Address(v))
    if len(v) == 32:
        return "%s + link-local %s" % (ipaddress.IPv6Address(v[:16]), ipaddress.IPv6Address(v[16:]))
    return "(%d bytes) %s" % (len(v), v.hex())


def parse_update(msg, sess, sender_side):
    """Decode an UPDATE; sess gives negotiated params."""
    four = sess["as4"]
    ap_rx = sess["addpath_rx"][sender_side]  # families with path ids in this direction
    body = msg[19:]
    wl = struct.unpack("!H", body[:2])[0]
    withdrawn = body[2:2 + wl]
    al = struct.unpack("!H", body[2 + wl:4 + wl])[0]
    attrs = body[4 + wl:4 + wl + al]
    nlri = body[4 + wl + al:]
    d = {"withdrawn4": prefixes(withdrawn, 1, "ipv4-unicast" in ap_rx),
         "nlri4": prefixes(nlri, 1, "ipv4-unicast" in ap_rx),
         "attrs": [], "attr_codes": [], "mp_reach": None, "mp_unreach": None, "eor": None,
         "extlen": False}
    i = 0
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            ln = struct.unpack("!H", attrs[i + 2:i + 4])[0]
            v = attrs[i + 4:i + 4 + ln]
            i += 4 + ln
            d["extlen"] = True
        else:
            ln = attrs[i + 2]
            v = attrs[i + 3:i + 3 + ln]
            i += 3 + ln
        d["attr_codes"].append(code)
        name = ATTRS.get(code, "ATTR%d" % code)
        if code == 1:
            d["attrs"].append("ORIGIN %s" % {0: "IGP", 1: "EGP", 2: "INCOMPLETE"}.get(v[0], v[0]))
        elif code == 2:
            d["attrs"].append("AS_PATH [%s]%s" % (aspath(v, four), "" if four else " (2-octet)"))
        elif code == 17:
            d["attrs"].append("AS4_PATH [%s]" % aspath(v, True))
        elif code == 3:
            d["attrs"].append("NEXT_HOP %s" % nexthop(v))
        elif code in (4, 5):
            d["attrs"].append("%s %d" % (name, struct.unpack("!I", v)[0]))
        elif code == 8:
            cs = []
            for k in range(0, len(v), 4):
                hi, lo = struct.unpack("!HH", v[k:k + 4])
                cs.append("%d:%d%s" % (hi, lo, " (GRACEFUL_SHUTDOWN)" if (hi, lo) == (65535, 0) else ""))
            d["attrs"].append("COMMUNITIES %s" % ", ".join(cs))
        elif code == 32:
            cs = ["%d:%d:%d" % struct.unpack("!III", v[k:k + 12]) for k in range(0, len(v), 12)]
            d["attrs"].append("LARGE_COMMUNITY %s" % ", ".join(cs))
        elif code == 14:
            afi, safi, nhl = struct.unpack("!HBB", v[:4])
            nh = v[4:4 + nhl]
            f = fam(afi, safi)
            pfx = prefixes(v[5 + nhl:], afi, f in ap_rx)
            d["mp_reach"] = (f, nexthop(nh), pfx)
            d["attrs"].append("MP_REACH_NLRI %s next-hop %s nlri %s" % (f, nexthop(nh), ", ".join(pfx)))
        elif code == 15:
            afi, safi = struct.unpack("!HB", v[:3])
            f = fam(afi, safi)
            pfx = prefixes(v[3:], afi, f in ap_rx)
            d["mp_unreach"] = (f, pfx)
            d["attrs"].append("MP_UNREACH_NLRI %s withdrawn %s" % (f, ", ".join(pfx) if pfx else "(none)"))
        else:
            d["attrs"].append("%s %s" % (name, v.hex()))
    if not withdrawn and not attrs and not nlri:
        d["eor"] = "ipv4-unicast"
    elif d["mp_unreach"] and not d["mp_unreach"][1] and len(d["attr_codes"]) == 1 and not nlri and not withdrawn:
        d["eor"] = d["mp_unreach"][0]
    return d


NOTIF = {1: "Message Header Error", 2: "OPEN Message Error", 3: "UPDATE Message Error",
         4: "Hold Timer Expired", 5: "FSM Error", 6: "Cease"}
NOTIF_SUB = {
    2: {1: "Unsupported Version Number", 2: "Bad Peer AS", 3: "Bad BGP Identifier",
        4: "Unsupported Optional Parameter", 6: "Unacceptable Hold Time",
        7: "Unsupported Capability", 11: "Role Mismatch"},
    6: {1: "Maximum Number of Prefixes Reached", 2: "Administrative Shutdown",
        3: "Peer De-configured", 4: "Administrative Reset", 5: "Connection Rejected",
        6: "Other Configuration Change", 7: "Connection Collision Resolution",
        8: "Out of Resources", 9: "Hard Reset", 10: "BFD Down"},
}


def parse_notification(msg):
    code, sub = msg[19], msg[20]
    data = msg[21:]
    text = "%s (%d) / %s (%d)" % (NOTIF.get(code, "?"), code,
                                  NOTIF_SUB.get(code, {}).get(sub, "?"), sub)
    slug = "%s-%s" % (NOTIF.get(code, "code%d" % code), NOTIF_SUB.get(code, {}).get(sub, "sub%d" % sub))
    if code == 6 and sub in (2, 4) and data:
        n = data[0]
        comm = data[1:1 + n].decode("utf-8", errors="replace")
        text += '; shutdown communication (RFC 8203/9003) length %d: "%s"' % (n, comm)
        slug += "-communication"
        if len(data) > 1 + n:
            text += "; trailing data %s" % data[1 + n:].hex()
    elif code == 6 and sub == 9 and len(data) >= 2:
        text += "; wraps %s (%d) / %s (%d) (RFC 8538 hard reset)" % (
            NOTIF.get(data[0], "?"), data[0], NOTIF_SUB.get(data[0], {}).get(data[1], "?"), data[1])
        slug += "-" + NOTIF_SUB.get(data[0], {}).get(data[1], "sub%d" % data[1])
        if len(data) > 2:
            text += "; inner data %s" % data[2:].hex()
    elif data:
        text += "; data %s" % data.hex()
    return text, slug


def parse_route_refresh(msg):
    afi, sub, safi = struct.unpack("!HBB", msg[19:23])
    st = {0: "request", 1: "BoRR (begin of route refresh)", 2: "EoRR (end of route refresh)"}.get(sub, "subtype %d" % sub)
    slug = {0: "request", 1: "borr", 2: "eorr"}.get(sub, "subtype%d" % sub)
    return "%s, %s (AFI %d, SAFI %d, subtype %d)" % (fam(afi, safi), st, afi, safi, sub), fam(afi, safi), slug


# ------------------------------------------------------------------ main
def slugify(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def load_versions(work):
    vers = {}
    path = os.path.join(work, "versions.txt")
    if os.path.exists(path):
        for line in open(path):
            parts = line.split()
            if len(parts) == 2:
                vers[parts[0]] = parts[1]
    return vers


def version_string(router, vers):
    pkg = PKG[router]
    v = vers.get(pkg, "unknown")
    upstream = v.split("-")[0]
    return "%s %s (Debian package %s %s)" % (router, upstream, pkg, v)


def analyse(work):
    pcaps = sorted(os.path.join(work, f) for f in os.listdir(work) if f.endswith(".pcap"))
    conns = connections(pcaps)
    records = []
    for ci, c in enumerate(conns):
        dirs = list(c["dirs"].values())
        per_dir = {}
        for d in dirs:
            data, stamps = d.stream()
            per_dir[d.src[0]] = (d, split_messages(data, stamps))
        opens = {}
        for ip, (d, msgs) in per_dir.items():
            for ts, m in msgs:
                if m[18] == 1:
                    opens[ip] = parse_open(m)
                    break
        ips = list(per_dir)
        sess = {"as4": False, "extmsg": False, "addpath_rx": {ip: set() for ip in ips}}
        if len(opens) == 2:
            a, b = ips
            oa, ob = opens[a], opens[b]
            sess["as4"] = oa["as4"] is not None and ob["as4"] is not None
            sess["extmsg"] = oa["extmsg"] and ob["extmsg"]
            for s_ip, r_ip in ((a, b), (b, a)):
                so, ro = opens[s_ip], opens[r_ip]
                for f, mode in so["addpath"].items():
                    if mode & 2 and ro["addpath"].get(f, 0) & 1:
                        sess["addpath_rx"][s_ip].add(f)
        for ip, (d, msgs) in per_dir.items():
            for idx, (ts, m) in enumerate(msgs):
                records.append({"ts": ts, "conn": ci, "idx": idx, "src": d.src, "dst": d.dst,
                                "msg": m, "sess": sess, "opens": opens})
    records.sort(key=lambda r: (r["ts"], r["conn"], r["idx"]))
    return records


def describe(r):
    """Return (kind, slug, note, signature)."""
    m = r["msg"]
    t = m[18]
    kind = KINDS.get(t, "type%d" % t)
    src_ip = r["src"][0]
    sess = r["sess"]
    if t == 1:
        o = parse_open(m)
        caps = describe_caps(o)
        note = "OPEN version %d, my AS %d%s, hold time %d, BGP identifier %s; capabilities: %s" % (
            o["version"], o["my_as"], " (AS_TRANS)" if o["my_as"] == 23456 else "", o["hold"], o["id"],
            "; ".join(caps) if caps else "none")
        tags = []
        if o["as4"] is None:
            tags.append("no-as4")
        elif o["my_as"] == 23456:
            tags.append("as-trans")
        if o["addpath"]:
            tags.append("addpath")
        if o["extmsg"]:
            tags.append("extmsg")
        fams = sorted(o["mp"])
        tags.append("+".join(f.split("-")[0] for f in fams) if fams else "no-mp")
        slug = "-".join(tags)
        sig = ("open", tuple(sorted(c for c, _ in o["caps"])), o["as4"] is None, o["my_as"] == 23456)
        return kind, slug, note, sig
    if t == 4:
        return kind, "", "KEEPALIVE (header only, 19 bytes)", ("keepalive",)
    if t == 3:
        text, slug = parse_notification(m)
        return kind, slugify(slug), "NOTIFICATION " + text, ("notification", m[19], m[20], len(m) > 21)
    if t == 5:
        text, f, slug = parse_route_refresh(m)
        return kind, slugify("%s-%s" % (f.split("-")[0], slug)), "ROUTE-REFRESH " + text, ("route-refresh", m[21])
    # UPDATE
    u = parse_update(m, sess, src_ip)
    ap = sess["addpath_rx"][src_ip]
    if u["eor"]:
        f = u["eor"]
        note = "End-of-RIB marker for %s (%s)" % (
            f, "empty UPDATE, 23 bytes" if f == "ipv4-unicast" else "UPDATE with only an empty MP_UNREACH_NLRI")
        return kind, "eor-" + f.split("-")[0], note, (("eor", f), 0)
    parts = []
    tags = []
    if u["withdrawn4"]:
        parts.append("withdrawn routes (IPv4): " + ", ".join(u["withdrawn4"]))
        tags.append("withdraw-ipv4")
    if u["mp_unreach"]:
        tags.append("mp-unreach-" + u["mp_unreach"][0].split("-")[0])
    if u["mp_reach"]:
        tags.append("mp-reach-" + u["mp_reach"][0].split("-")[0])
    if u["nlri4"]:
        tags.append("nlri-ipv4")
    if u["attrs"]:
        parts.append("path attributes: " + "; ".join(u["attrs"]))
    if u["nlri4"]:
        parts.append("NLRI (IPv4): " + ", ".join(u["nlri4"]))
    uses_pid = bool(ap) and (
        (u["nlri4"] or u["withdrawn4"]) and "ipv4-unicast" in ap
        or (u["mp_reach"] and u["mp_reach"][0] in ap)
        or (u["mp_unreach"] and u["mp_unreach"][0] in ap))
    if uses_pid:
        tags.append("addpath")
    codes = set(u["attr_codes"])
    if 8 in codes:
        tags.append("communities")
        if "65535:0 (GRACEFUL_SHUTDOWN)" in " ".join(u["attrs"]):
            tags.append("gshut")
    if 32 in codes:
        tags.append("large")
    if 5 in codes:
        tags.append("localpref")
    if 17 in codes:
        tags.append("as4path")
    if u["mp_reach"] and "(4 bytes)" not in u["mp_reach"][1] and re.match(r"^\d+\.\d+\.\d+\.\d+$", u["mp_reach"][1]):
        tags.append("v4-nexthop")
    if u["mp_reach"] and "link-local" in u["mp_reach"][1]:
        tags.append("ll-nexthop")
    if u["extlen"]:
        tags.append("extlen")
    nh = "none"
    if u["mp_reach"]:
        nhs = u["mp_reach"][1]
        nh = "ll" if "link-local" in nhs else ("mapped" if nhs.startswith("::ffff:") else "global")
        if nh == "mapped":
            tags.append("v4mapped-nexthop")
    sig = ("update", bool(u["withdrawn4"]), u["mp_unreach"][0] if u["mp_unreach"] else None,
           bool(u["nlri4"]), u["mp_reach"][0] if u["mp_reach"] else None, bool(uses_pid),
           (5 in codes) if u["nlri4"] else None, 17 in codes, sess["as4"], nh)
    score = len(codes) + 2 * ("gshut" in tags) + len(u["withdrawn4"]) + (
        len(u["mp_unreach"][1]) if u["mp_unreach"] else 0)
    return kind, "-".join(tags), "UPDATE " + "; ".join(parts), (sig, score)


MAX_PER_SENDER = 18
LIMIT = {"open": 2, "keepalive": 1, "update": 11, "notification": 3, "route-refresh": 3}


def priority(kind, sig, r):
    """Lower is more important when the per-sender budget is tight."""
    if kind in ("keepalive", "route-refresh"):
        return 0
    if kind == "open":
        if r["sess"]["as4"] and r["sess"]["addpath_rx"][r["src"][0]]:
            return 0
        return 1 if parse_open(r["msg"])["as4"] is None else 2
    if kind == "notification":
        _, code, sub, has_data = sig
        return 0 if (code == 6 and sub == 2 and has_data) else 1
    if sig[0] == "eor":
        return 0
    _, w4, unreach, n4, reach, pid, lp, as4p, as4, nh = sig
    if w4 or unreach:
        return 0 if pid else 2
    if pid:
        return 0 if nh in ("none", "ll", "mapped") else 1
    return 1 if as4p else 2


# ------------------------------------------------------------------ verify
class Bad(Exception):
    pass


def strict_prefixes(data, afi, addpath):
    i, n = 0, 0
    maxlen = 32 if afi == 1 else 128
    while i < len(data):
        if addpath:
            if i + 4 > len(data):
                raise Bad("truncated path identifier")
            i += 4
        if i >= len(data):
            raise Bad("missing prefix length")
        plen = data[i]
        if plen > maxlen:
            raise Bad("prefix length %d > %d" % (plen, maxlen))
        i += 1 + (plen + 7) // 8
        n += 1
    if i != len(data):
        raise Bad("NLRI overrun")
    return n


def strict_aspath(v, four):
    i = 0
    w = 4 if four else 2
    while i < len(v):
        if i + 2 > len(v) or v[i] not in (1, 2, 3, 4) or v[i + 1] == 0:
            raise Bad("bad AS_PATH segment header")
        i += 2 + v[i + 1] * w
    if i != len(v):
        raise Bad("AS_PATH length mismatch for %d-octet ASNs" % w)


def strict_update(m, four, ap):
    body = m[19:]
    wl = struct.unpack("!H", body[:2])[0]
    if 2 + wl + 2 > len(body):
        raise Bad("withdrawn length overrun")
    strict_prefixes(body[2:2 + wl], 1, "ipv4-unicast" in ap)
    al = struct.unpack("!H", body[2 + wl:4 + wl])[0]
    if 4 + wl + al > len(body):
        raise Bad("attribute length overrun")
    attrs = body[4 + wl:4 + wl + al]
    strict_prefixes(body[4 + wl + al:], 1, "ipv4-unicast" in ap)
    i = 0
    while i < len(attrs):
        flags, code = attrs[i], attrs[i + 1]
        if flags & 0x10:
            ln = struct.unpack("!H", attrs[i + 2:i + 4])[0]
            v = attrs[i + 4:i + 4 + ln]
            i += 4 + ln
        else:
            ln = attrs[i + 2]
            v = attrs[i + 3:i + 3 + ln]
            i += 3 + ln
        if len(v) != ln:
            raise Bad("attribute %d overrun" % code)
        if code == 2:
            strict_aspath(v, four)
        elif code == 17:
            strict_aspath(v, True)
        elif code == 14:
            afi, safi, nhl = struct.unpack("!HBB", v[:4])
            strict_prefixes(v[5 + nhl:], afi, fam(afi, safi) in ap)
        elif code == 15:
            afi, safi = struct.unpack("!HB", v[:3])
            strict_prefixes(v[3:], afi, fam(afi, safi) in ap)
    if i != len(attrs):
        raise Bad("attributes overrun")


def verify(root):
    required = ["sender", "receiver", "kind", "four-octet-as", "add-path-rx", "extended-messages", "note"]
    ok = bad = 0
    for sender in sorted(os.listdir(root)):
        d = os.path.join(root, sender)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".hex"):
                continue
            path = os.path.join(d, f)
            meta, hexpart = {}, []
            for line in open(path):
                if line.startswith("#"):
                    k, _, v = line[1:].partition(":")
                    meta[k.strip()] = v.strip()
                else:
                    hexpart.append(line)
            try:
                missing = [k for k in required if k not in meta]
                if missing:
                    raise Bad("missing keys %s" % missing)
                if not meta["sender"].startswith(sender + " "):
                    raise Bad("sender key does not match directory")
                hx = "".join("".join(hexpart).split())
                if hx != hx.lower() or len(hx) % 2:
                    raise Bad("hex not lowercase / odd length")
                m = bytes.fromhex(hx)
                if m[:16] != MARKER:
                    raise Bad("marker")
                if struct.unpack("!H", m[16:18])[0] != len(m):
                    raise Bad("length field %d != %d bytes" % (struct.unpack("!H", m[16:18])[0], len(m)))
                if KINDS.get(m[18]) != meta["kind"]:
                    raise Bad("type %d does not match kind %s" % (m[18], meta["kind"]))
                if not f.split("-", 1)[1].startswith(meta["kind"]):
                    raise Bad("file name does not match kind")
                if meta["extended-messages"] == "no" and len(m) > 4096:
                    raise Bad("longer than 4096 without extended messages")
                four = {"yes": True, "no": False}[meta["four-octet-as"]]
                ap = set() if meta["add-path-rx"] == "none" else set(meta["add-path-rx"].split(","))
                alt = ""
                if m[18] == 1:
                    parse_open(m)
                elif m[18] == 2:
                    strict_update(m, four, ap)
                    # Does the message also parse with the opposite ADD-PATH assumption?
                    flip = set() if ap else {"ipv4-unicast", "ipv6-unicast"}
                    try:
                        strict_update(m, four, flip)
                        alt = " (also parses with add-path-rx=%s)" % (",".join(sorted(flip)) or "none")
                    except (Bad, struct.error, IndexError):
                        pass
                elif m[18] == 3 and len(m) < 21:
                    raise Bad("short NOTIFICATION")
                elif m[18] == 4 and len(m) != 19:
                    raise Bad("KEEPALIVE not 19 bytes")
                elif m[18] == 5 and len(m) != 23:
                    raise Bad("ROUTE-REFRESH not 23 bytes")
                ok += 1
                print("ok   %s/%s%s" % (sender, f, alt))
            except (Bad, KeyError, ValueError, struct.error, IndexError) as e:
                bad += 1
                print("FAIL %s/%s: %s" % (sender, f, e))
    print("%d passed, %d failed" % (ok, bad))
    return bad == 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        sys.exit(0 if verify(sys.argv[2]) else 1)
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    work, out = sys.argv[1], sys.argv[2]
    list_only = "--list" in sys.argv
    vers = load_versions(work)
    records = analyse(work)
    seen_bytes = set()
    best = {}  # (sender, signature) -> candidate
    for r in records:
        sender = ROUTERS.get(r["src"][0])
        receiver = ROUTERS.get(r["dst"][0])
        if sender is None or receiver is None:
            continue
        m = r["msg"]
        kind, slug, note, sig = describe(r)
        score = 0
        if kind == "update":
            sig, score = sig
        if list_only:
            print("%.3f %-6s -> %-6s %-13s %-40s %s" % (r["ts"], sender, receiver, kind, slug, note[:160]))
        if (sender, m) in seen_bytes:  # de-duplicate identical messages per sender
            continue
        seen_bytes.add((sender, m))
        key = (sender, sig)
        cand = {"r": r, "kind": kind, "slug": slug, "note": note, "receiver": receiver,
                "score": score, "prio": priority(kind, sig, r)}
        if key not in best or score > best[key]["score"]:
            best[key] = cand
    if list_only:
        return
    kept = defaultdict(list)
    per_sender = defaultdict(list)
    for (sender, _sig), c in best.items():
        per_sender[sender].append(c)
    for sender, cands in per_sender.items():
        cands.sort(key=lambda c: (c["prio"], c["r"]["ts"]))
        n_kind = defaultdict(int)
        for c in cands:
            if len(kept[sender]) >= MAX_PER_SENDER or n_kind[c["kind"]] >= LIMIT[c["kind"]]:
                continue
            n_kind[c["kind"]] += 1
            kept[sender].append(c)
        kept[sender].sort(key=lambda c: (c["r"]["ts"], c["r"]["conn"], c["r"]["idx"]))
    for sender, items in kept.items():
        d = os.path.join(out, sender)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.endswith(".hex"):
                os.remove(os.path.join(d, f))
        for n, c in enumerate(items, 1):
            r, kind, slug, note, receiver = c["r"], c["kind"], c["slug"], c["note"], c["receiver"]
            m = r["msg"]
            sess = r["sess"]
            src_ip = r["src"][0]
            ap = sorted(sess["addpath_rx"][src_ip])
            name = "%02d-%s%s.hex" % (n, kind, "-" + slug if slug else "")
            lines = [
                "# sender: %s" % version_string(sender, vers),
                "# receiver: %s" % version_string(receiver, vers),
                "# kind: %s" % kind,
                "# four-octet-as: %s" % ("yes" if sess["as4"] else "no"),
                "# add-path-rx: %s" % (",".join(ap) if ap else "none"),
                "# extended-messages: %s" % ("yes" if sess["extmsg"] else "no"),
                "# length: %d" % len(m),
                "# session: %s port %d -> %s port %d" % (r["src"][0], r["src"][1], r["dst"][0], r["dst"][1]),
                "# note: %s" % note,
            ]
            hx = m.hex()
            body = [" ".join(hx[i:i + 2] for i in range(j, min(j + 64, len(hx)), 2))
                    for j in range(0, len(hx), 64)]
            with open(os.path.join(d, name), "w") as f:
                f.write("\n".join(lines + body) + "\n")
            print("%s/%s" % (sender, name))


if __name__ == "__main__":
    main()
