#!/usr/bin/env python3
"""What one small frame costs the kernel sent as one buffer (`send`) or as header and payload
in two slices (`sendmsg`), over loopback TCP: the measurement behind `send_bufs` in
ws-core/src/engine/io.rs (frames of up to 4 KiB are gathered and sent with `send`).

A sender writes N frames (a 4-byte header and PAYLOAD bytes) to a socket whose other end a
thread reads; the CPU of the whole process (sender and reader, user and system, from
os.times) is divided by N. The two ways alternate, REPS times each; the medians are printed.

    python3 ws-bench/scripts/send_vs_sendmsg.py [PAYLOAD ...]   # default: 20 1024 4096 16384
"""

import os
import socket
import statistics
import sys
import threading

N = 100_000
REPS = 5


def run(way, size):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.socket()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    head, payload = b"\x82\x7e\x00\x00", b"x" * size
    total = N * (len(head) + size)

    def drain():
        got = 0
        while got < total:
            got += len(server.recv(1 << 20))

    reader = threading.Thread(target=drain)
    reader.start()
    before = os.times()
    if way == "send":
        for _ in range(N):
            client.sendall(head + payload)
    else:
        for _ in range(N):
            if client.sendmsg([head, payload]) != len(head) + size:
                raise RuntimeError("short sendmsg")
    reader.join()
    after = os.times()
    for s in (client, server, listener):
        s.close()
    cpu = (after.user - before.user) + (after.system - before.system)
    return cpu / N * 1e6


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [20, 1024, 4096, 16384]
    for size in sizes:
        cpu = {"send": [], "sendmsg": []}
        for _ in range(REPS):
            for way in cpu:
                cpu[way].append(run(way, size))
        line = ", ".join(
            f"{way} {statistics.median(v):.2f} µs ({min(v):.1f}-{max(v):.1f})"
            for way, v in cpu.items()
        )
        print(f"{size} B: {line}")


if __name__ == "__main__":
    main()
