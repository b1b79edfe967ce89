#!/usr/bin/env python3
"""A tiny TCP responder: answers every connection with the host's name and
closes. Used as the service behind a VIP and as a health-check target."""
import socket
import sys

name, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
while True:
    c, _ = s.accept()
    try:
        c.sendall((name + "\n").encode())
    finally:
        c.close()
