#!/usr/bin/env python3
"""The objects bench/services.sh loads, one JSON object a line:
  services_objects.py N all          BgpConf, BgpPeer, an IPv6 Eip, 500 Nodes,
                                     N Services (a quarter Local), $SLICES (4) EndpointSlices each
  services_objects.py 0 svc NAME Cluster|Local
  services_objects.py 0 slice SERVICE NODE   (its slice NAME-1, one endpoint on NODE)"""
import json, os, sys
n = int(sys.argv[1])
out = []
out.append({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpConf", "metadata": {"name": "default"}, "spec": {"as": 65100}})
out.append({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "BgpPeer", "metadata": {"name": "leaf"},
            "spec": {"conf": {"neighborAddress": "198.51.100.1", "peerAs": 65001},
                     "afiSafis": [{"config": {"family": {"afi": "AFI_IP", "safi": "SAFI_UNICAST"}}},
                                  {"config": {"family": {"afi": "AFI_IP6", "safi": "SAFI_UNICAST"}}}]}})
out.append({"apiVersion": "network.kubesphere.io/v1alpha2", "kind": "Eip",
            "metadata": {"name": "pool", "annotations": {"eip.openelb.kubesphere.io/is-default-eip": "true"}},
            "spec": {"address": "2001:db8:5::/112"}})
for i in range(1, 501):
    out.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
def svc(name, local):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "annotations": {"lb.kubesphere.io/v1alpha1": "openelb"}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack",
                     "externalTrafficPolicy": "Local" if local else "Cluster"}}
def eps(name, j, node):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{name}-{j}", "namespace": "default", "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": [f"10.0.0.{j}"], "nodeName": node, "conditions": {"ready": True}}]}
if sys.argv[2] == "all":
    for i in range(1, n + 1):
        out.append(svc(f"s{i}", i % 4 == 0))
        for j in range(1, int(os.environ.get("SLICES", "4")) + 1):
            out.append(eps(f"s{i}", j, f"node-{(i + j) % 500 + 1}"))
elif sys.argv[2] == "svc":
    out = [svc(sys.argv[3], sys.argv[4] == "Local")]
elif sys.argv[2] == "slice":
    out = [eps(sys.argv[3], 1, sys.argv[4])]
for o in out:
    print(json.dumps(o, separators=(",", ":")))
