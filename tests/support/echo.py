#!/usr/bin/env python3
"""The service behind a VIP for the hitless tests: on each connection it
sends the host's name, then answers every line it reads with the host's
name and the line. A short request reads the name and closes; a long flow
keeps echoing, and a reply with another name means the flow moved host."""
import socket
import sys
import threading

name, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(512)


def serve(c):
    try:
        c.sendall((name + "\n").encode())
        f = c.makefile("rb")
        for line in f:
            c.sendall(name.encode() + b" " + line)
    except OSError:
        pass
    finally:
        c.close()


while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
