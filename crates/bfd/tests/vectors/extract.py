#!/usr/bin/env python3
"""Extract BFD control packets from the pcap written by capture.sh.

    python3 crates/bfd/tests/vectors/extract.py WORKDIR OUTDIR [--list]
    python3 crates/bfd/tests/vectors/extract.py --verify crates/bfd/tests/vectors

Reads WORKDIR/*.pcap (classic libpcap, Ethernet or Linux cooked link type),
takes every UDP datagram to port 3784 (RFC 5881 single-hop BFD control),
decodes the BFD control header, assigns each packet the capture phase it
was sent in (WORKDIR/events.log, written by capture.sh) and writes a
selection of interesting packets to OUTDIR/<sender>/<NN>-<kind>-<family>.hex.

--list prints every captured packet instead (runs of identical packets from
one sender collapsed into one line).  --verify re-decodes every *.hex file
under the given directory and checks it against its header lines.
Only the Python standard library is used.
"""
import bisect
import glob
import ipaddress
import os
import struct
import sys
from collections import OrderedDict

# ------------------------------------------------------------------ topology
# address -> implementation (must match capture.sh)
ROUTERS = {
    "203.0.113.1": "frr", "2001:db8:bfd::1": "frr", "fe80::1": "frr",
    "203.0.113.2": "bird2", "2001:db8:bfd::2": "bird2", "fe80::2": "bird2",
}
PKG = {"frr": "frr", "bird2": "bird2"}
UPSTREAM = {"frr": "frr", "bird2": "bird2"}

STATES = {0: "admin-down", 1: "down", 2: "init", 3: "up"}
DIAGS = {
    0: "no diagnostic",
    1: "control detection time expired",
    2: "echo function failed",
    3: "neighbor signaled session down",
    4: "forwarding plane reset",
    5: "path down",
    6: "concatenated path down",
    7: "administratively down",
    8: "reverse concatenated path down",
}
FLAG_BITS = [("P", 0x20), ("F", 0x10), ("C", 0x08), ("A", 0x04), ("D", 0x02), ("M", 0x01)]

HEADER_KEYS = [
    "sender", "receiver", "family", "state", "diag", "flags", "detect-mult",
    "my-disc", "your-disc", "desired-min-tx-us", "required-min-rx-us",
    "required-min-echo-rx-us", "ip-ttl-or-hop-limit", "udp-src-port",
    "length", "session", "note",
]


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
    """Return (family, src, dst, ttl, sport, dport, payload) for UDP, else None."""
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
        if l3[9] != 17:
            return None
        fam = "ipv4"
        ttl = l3[8]
        src = str(ipaddress.IPv4Address(l3[12:16]))
        dst = str(ipaddress.IPv4Address(l3[16:20]))
        seg = l3[ihl:total]
    elif etype == 0x86DD:
        plen = struct.unpack("!H", l3[4:6])[0]
        if l3[6] != 17:
            return None
        fam = "ipv6"
        ttl = l3[7]
        src = str(ipaddress.IPv6Address(l3[8:24]))
        dst = str(ipaddress.IPv6Address(l3[24:40]))
        seg = l3[40:40 + plen]
    else:
        return None
    sport, dport, ulen = struct.unpack("!HHH", seg[:6])
    return fam, src, dst, ttl, sport, dport, seg[8:ulen]


# ------------------------------------------------------------------ BFD
def decode(b):
    """Decode a BFD control packet (RFC 5880 section 4.1)."""
    if len(b) < 24:
        raise ValueError("short BFD packet (%d bytes)" % len(b))
    vers_diag, sta_flags, mult, length = b[0], b[1], b[2], b[3]
    my, your, tx, rx, echo = struct.unpack("!IIIII", b[4:24])
    flags = "".join(n for n, bit in FLAG_BITS if sta_flags & bit)
    d = OrderedDict()
    d["version"] = vers_diag >> 5
    d["diag"] = vers_diag & 0x1F
    d["state"] = STATES[sta_flags >> 6]
    d["flags"] = flags or "none"
    d["detect-mult"] = mult
    d["length"] = length
    d["my-disc"] = my
    d["your-disc"] = your
    d["desired-min-tx-us"] = tx
    d["required-min-rx-us"] = rx
    d["required-min-echo-rx-us"] = echo
    return d


def short(d):
    return "%-10s diag=%d flags=%-4s mult=%d my=%u your=%u tx=%u rx=%u echo=%u" % (
        d["state"], d["diag"], d["flags"], d["detect-mult"], d["my-disc"],
        d["your-disc"], d["desired-min-tx-us"], d["required-min-rx-us"],
        d["required-min-echo-rx-us"])


# ------------------------------------------------------------------ capture
def load_events(workdir):
    events = []
    path = os.path.join(workdir, "events.log")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                ts, _, text = line.rstrip("\n").partition(" ")
                events.append((float(ts), text))
    return events


def phase_of(events, ts):
    i = bisect.bisect_right([e[0] for e in events], ts) - 1
    return events[i][1] if i >= 0 else "before the first phase"


def family_name(fam, src):
    if fam == "ipv6" and ipaddress.IPv6Address(src).is_link_local:
        return "ipv6-ll"
    return fam


def load_packets(workdir):
    events = load_events(workdir)
    pkts = []
    others = []
    for path in sorted(glob.glob(os.path.join(workdir, "*.pcap"))):
        for ts, lt, raw in read_pcap(path):
            p = parse_packet(lt, raw)
            if p is None:
                continue
            fam, src, dst, ttl, sport, dport, payload = p
            if dport != 3784:
                others.append((ts, src, sport, dst, dport))
                continue
            pkts.append({
                "ts": ts, "fam": fam, "famname": family_name(fam, src),
                "src": src, "dst": dst, "ttl": ttl, "sport": sport,
                "dport": dport, "bytes": payload,
                "sender": ROUTERS.get(src, src), "receiver": ROUTERS.get(dst, dst),
                "bfd": decode(payload), "phase": phase_of(events, ts),
            })
    pkts.sort(key=lambda p: p["ts"])
    return pkts, others, events


def versions(workdir):
    v = {}
    path = os.path.join(workdir, "versions.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                name, _, ver = line.strip().partition(" ")
                v[name] = ver
    return v


def impl_desc(name, vers):
    pkgver = vers.get(PKG.get(name, name), "?")
    upstream = pkgver.split("-")[0]
    label = {"frr": "frr", "bird2": "bird2"}.get(name, name)
    return "%s %s (Debian package %s %s)" % (label, upstream, PKG.get(name, name), pkgver)


# ------------------------------------------------------------------ selection
# (kind, predicate, families, explanation); the first packet (in time) of
# each sender/family matching the predicate is written.
def _st(p):
    return p["bfd"]["state"]


ALL = ("ipv4", "ipv6", "ipv6-ll")
BOTH = ("ipv4", "ipv6")
V4 = ("ipv4",)


def _is(state, flags=None, diag=None):
    def pred(p):
        d = p["bfd"]
        return (d["state"] == state and (flags is None or d["flags"] == flags)
                and (diag is None or d["diag"] == diag))
    return pred


def _timers_phase(p, whose):
    return p["phase"].startswith(whose + "-timers")


WANTED = [
    ("down", lambda p: _is("down", "none", 0)(p) and p["bfd"]["your-disc"] == 0, ALL,
     "first Down packet, peer not known yet (Your Discriminator 0)"),
    ("init", _is("init", "none"), ALL, "first Init: the sender has seen the peer's Down"),
    ("up", _is("up", "none"), ALL, "first plain Up"),
    ("poll", lambda p: _is("up", "P")(p) and _timers_phase(p, SENDER_PHASE[p["sender"]]), ALL,
     "Poll (P bit) after this sender's intervals were changed at runtime while Up"),
    ("final", lambda p: _is("up", "F")(p) and _timers_phase(p, OTHER_PHASE[p["sender"]]), ALL,
     "Final (F bit) answering the peer's Poll after the peer's intervals were changed at runtime"),
    ("up-slow", lambda p: _is("up", "none")(p) and p["phase"].startswith("bird-timers"), V4,
     "plain Up after both runtime interval changes (FRR 300 ms, BIRD 200 ms)"),
    ("down-diag1", _is("down", None, 1), BOTH,
     "Down after the control detection time expired (the peer was frozen with SIGSTOP or stopped)"),
    ("down-diag1-idle", lambda p: _is("down", "none", 1)(p) and p["bfd"]["desired-min-tx-us"] == 1000000, V4,
     "Down, diag 1, once the transmit interval has dropped to the 1 s idle rate"),
    ("admin-down", _is("admin-down", "none"), BOTH, "AdminDown after 'shutdown' of the peer"),
    ("admin-down-final", _is("admin-down", "F"), V4,
     "AdminDown with F bit: answers the peer's Poll while administratively down"),
    ("down-diag3", _is("down", "none", 3), BOTH,
     "Down, diag 3: the peer signalled Down or AdminDown while this side was Up"),
    ("down-diag3-poll", _is("down", "P", 3), V4,
     "Down with P bit: going Down slows the transmit interval to 1 s, announced with a Poll"),
    ("up-poll-at-up", lambda p: _is("up", "P")(p) and "-timers" not in p["phase"], V4,
     "Up with P bit sent right when the session came Up: the intervals change from the 1 s idle rate to the configured ones"),
    ("up-final-at-up", lambda p: _is("up", "F")(p) and "-timers" not in p["phase"], V4,
     "Up with F bit answering the peer's Poll sent when the session came Up"),
    ("init-diag1", _is("init", None, 1), V4,
     "Init that still carries diag 1 from the previous session"),
    ("init-poll", _is("init", "P"), V4,
     "Init with P bit (the peer was frozen with SIGSTOP and this side resumed)"),
]
SENDER_PHASE = {"frr": "frr", "bird2": "bird"}
OTHER_PHASE = {"frr": "bird", "bird2": "frr"}
FAMILY_ORDER = {"ipv4": 0, "ipv6": 1, "ipv6-ll": 2}


def select(pkts):
    out = {}  # sender -> list of (fam, kind, pkt, expl)
    for fam in ALL:
        for kind, pred, fams, expl in WANTED:
            if fam not in fams:
                continue
            for sender in ("frr", "bird2"):
                for p in pkts:
                    if p["sender"] == sender and p["famname"] == fam and pred(p):
                        if any(q is p for _f, _k, q, _e in out.get(sender, [])):
                            break  # already written under an earlier kind
                        out.setdefault(sender, []).append((fam, kind, p, expl))
                        break
    return out


def context(pkts, p):
    """What the receiver last sent shortly before p (same family), for the note."""
    prev = None
    for q in pkts:
        if q["ts"] >= p["ts"]:
            break
        if q["sender"] == p["receiver"] and q["famname"] == p["famname"]:
            prev = q
    if prev is None or p["ts"] - prev["ts"] > 2.0:
        return "no packet from the peer in the 2 s before"
    d = prev["bfd"]
    return "peer's last packet %.3f s earlier: %s diag %d flags %s" % (
        p["ts"] - prev["ts"], d["state"], d["diag"], d["flags"])


def hexlines(b):
    h = ["%02x" % x for x in b]
    return [" ".join(h[i:i + 32]) for i in range(0, len(h), 32)]


def write(workdir, outdir):
    pkts, _others, _events = load_packets(workdir)
    vers = versions(workdir)
    sel = select(pkts)
    for sender, items in sel.items():
        d = os.path.join(outdir, sender)
        os.makedirs(d, exist_ok=True)
        for old in glob.glob(os.path.join(d, "*.hex")):
            os.remove(old)
        items.sort(key=lambda it: FAMILY_ORDER[it[0]])
        for n, (fam, kind, p, expl) in enumerate(items, 1):
            b = p["bfd"]
            name = "%02d-%s-%s.hex" % (n, kind, fam)
            note = "%s; diag %d = %s; phase: %s; %s" % (
                expl, b["diag"], DIAGS.get(b["diag"], "?"), p["phase"], context(pkts, p))
            if fam == "ipv6-ll":
                note = "link-local IPv6; " + note
            hdr = OrderedDict()
            hdr["sender"] = impl_desc(p["sender"], vers)
            hdr["receiver"] = impl_desc(p["receiver"], vers)
            hdr["family"] = p["fam"]
            for k in ("state", "diag", "flags", "detect-mult", "my-disc", "your-disc",
                      "desired-min-tx-us", "required-min-rx-us", "required-min-echo-rx-us"):
                hdr[k] = b[k]
            hdr["ip-ttl-or-hop-limit"] = p["ttl"]
            hdr["udp-src-port"] = p["sport"]
            hdr["length"] = b["length"]
            hdr["session"] = "%s port %d -> %s port %d" % (p["src"], p["sport"], p["dst"], p["dport"])
            hdr["note"] = note
            with open(os.path.join(d, name), "w") as f:
                for k, v in hdr.items():
                    f.write("# %s: %s\n" % (k, v))
                for line in hexlines(p["bytes"]):
                    f.write(line + "\n")
            print("%s/%s" % (sender, name))


def list_packets(workdir):
    pkts, others, _ = load_packets(workdir)
    t0 = pkts[0]["ts"] if pkts else 0
    last = {}
    phase = None
    for p in pkts:
        if p["phase"] != phase:
            phase = p["phase"]
            print("== %s" % phase)
            last = {}
        key = (p["sender"], p["famname"])
        sig = (p["bytes"], p["sport"], p["ttl"])
        if last.get(key, (None,))[0] == sig:
            last[key][1] += 1
            continue
        last[key] = [sig, 1]
        print("%9.3f %-5s %-7s %s:%d ttl=%d %s" % (
            p["ts"] - t0, p["sender"], p["famname"], p["src"], p["sport"], p["ttl"], short(p["bfd"])))
    print("(runs of identical packets from one sender/family within a phase are shown once)")
    counts = {}
    for p in pkts:
        counts[(p["sender"], p["famname"])] = counts.get((p["sender"], p["famname"]), 0) + 1
    print("packets per sender/family:", counts)
    ports = {}
    for p in pkts:
        ports.setdefault(p["sender"], set()).add(p["sport"])
    print("source ports:", {k: sorted(v) for k, v in ports.items()})
    print("ttl/hop limits:", sorted({p["ttl"] for p in pkts}))
    print("non-3784 UDP datagrams:", len(others))


# ------------------------------------------------------------------ verify
def verify(root):
    bad = 0
    files = sorted(glob.glob(os.path.join(root, "*", "*.hex")))
    for path in files:
        hdr = OrderedDict()
        hexpart = []
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#"):
                    k, sep, v = line[1:].strip().partition(": ")
                    if not sep:
                        k, v = line[1:].strip().rstrip(":"), ""
                    hdr[k] = v
                elif line.strip():
                    hexpart.append(line)
        errs = []
        for line in hexpart:
            toks = line.split(" ")
            if len(toks) > 32 or any(len(t) != 2 or t != t.lower() for t in toks):
                errs.append("bad hex line %r" % line)
        b = bytes.fromhex("".join(hexpart))
        missing = [k for k in HEADER_KEYS if k not in hdr]
        if missing:
            errs.append("missing header keys %s" % missing)
        try:
            d = decode(b)
        except (ValueError, KeyError) as e:
            errs.append(str(e))
            d = {}
        if d:
            if d["version"] != 1:
                errs.append("version %d" % d["version"])
            if d["length"] != len(b):
                errs.append("length field %d != %d bytes" % (d["length"], len(b)))
            for k in ("state", "diag", "flags", "detect-mult", "my-disc", "your-disc",
                      "desired-min-tx-us", "required-min-rx-us", "required-min-echo-rx-us",
                      "length"):
                if k in hdr and str(d[k]) != hdr[k]:
                    errs.append("%s: header %s, bytes %s" % (k, hdr[k], d[k]))
        if hdr.get("ip-ttl-or-hop-limit") != "255":
            errs.append("ttl/hop limit %s (RFC 5881 wants 255)" % hdr.get("ip-ttl-or-hop-limit"))
        # (not checked against RFC 5881's 49152-65535: BIRD on Linux uses
        # an ordinary ephemeral port, see README.md)
        if not hdr.get("udp-src-port", "").isdigit():
            errs.append("bad udp-src-port")
        sender_dir = os.path.basename(os.path.dirname(path))
        if not hdr.get("sender", "").startswith(sender_dir + " "):
            errs.append("sender %r is not the directory %r" % (hdr.get("sender"), sender_dir))
        if errs:
            bad += 1
            for e in errs:
                print("%s: %s" % (path, e))
    print("%d files checked, %d bad" % (len(files), bad))
    return bad == 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--verify":
        return 0 if verify(argv[2]) else 1
    if len(argv) == 4 and argv[3] == "--list":
        list_packets(argv[1])
        return 0
    if len(argv) == 3:
        write(argv[1], argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
