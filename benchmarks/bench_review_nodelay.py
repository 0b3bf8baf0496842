"""Measurement: small keep-alive requests to uvicorn on loopback, with and without TCP_NODELAY
on the listening socket the review server hands to uvicorn.

A 40 ms stall per request is the signature of Nagle's algorithm meeting the client's delayed
ACK (the response leaves in two writes; the second waits for an ACK of the first). The script
serves a tiny ASGI app (a 200-byte body, as a small thumbnail answer) through
``labelscout.review.server._bind`` (TCP_NODELAY set) and through the same socket with the
option cleared, and times sequential requests on one keep-alive connection.

    python benchmarks/bench_review_nodelay.py --requests 200 --out benchmarks/results/review-nodelay.json
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import threading
import time

import uvicorn

from labelscout.review.server import _bind

BODY = b"x" * 200


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


def measure(nodelay: bool, n: int) -> dict:
    sock = _bind("127.0.0.1", 0)
    if not nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", "/")
        conn.getresponse().read()
        times.append((time.perf_counter() - t) * 1000)
    conn.close()
    server.should_exit = True
    thread.join(10)
    sock.close()
    times = times[1:]  # the first pays the connection
    return {"tcp_nodelay_on_listening_socket": nodelay, "requests": len(times),
            "median_ms": round(statistics.median(times), 2), "p90_ms": round(sorted(times)[int(0.9 * len(times))], 2),
            "max_ms": round(max(times), 2), "over_30ms": sum(t > 30 for t in times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    results = {"uvicorn": uvicorn.__version__, "python": sys.version.split()[0], "load_average": os.getloadavg(),
               "runs": [measure(False, args.requests), measure(True, args.requests)],
               "command": "python benchmarks/bench_review_nodelay.py " + " ".join(sys.argv[1:])}
    print(json.dumps(results, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
