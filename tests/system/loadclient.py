#!/usr/bin/env python3
"""A bounded HTTP load client for the system tier (stdlib only; runs inside the container).

Sends GET requests to a loopback URL from N threads for at most D seconds (and at most M
requests), keep-alive per thread, and prints JSON: counts, failures by kind, latencies.
"""
import argparse
import http.client
import json
import ssl
import threading
import time


def connect(args):
    """A new connection: HTTPS (--tls; SNI from --addr, which must then be the host name,
    certificate not verified: the tests check it apart) or HTTP."""
    if args.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(args.addr, args.port, timeout=args.timeout, context=ctx)
    return http.client.HTTPConnection(args.addr, args.port, timeout=args.timeout)


def request(args, conn):
    if args.post is not None:
        conn.request("POST", args.path, body=args.post.encode(),
                     headers={"Host": args.host, "Content-Type": "text/plain"})
    else:
        conn.request("GET", args.path, headers={"Host": args.host})
    resp = conn.getresponse()
    return resp, resp.read()


def worker(args, deadline, results, lock):
    conn = None
    reused = False
    while time.monotonic() < deadline:
        with lock:
            if results["sent"] >= args.max_requests:
                return
            results["sent"] += 1
        start = time.monotonic()
        try:
            if conn is None:
                conn = connect(args)
                reused = False
            try:
                resp, body = request(args, conn)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                # The server closed an idle keep-alive connection as we reused it (nginx does
                # on reload): like browsers (RFC 9110 9.2.2), retry a GET once, on a new one.
                with lock:
                    results["stale_retries"] += 1
                conn.close()
                conn = connect(args)
                resp, body = request(args, conn)
            reused = True
            ok = resp.status == 200 and args.expect.encode() in body
            outcome = "ok" if ok else f"status {resp.status}"
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            if conn is not None:
                conn.close()
            conn = None
        elapsed = time.monotonic() - start
        with lock:
            results["latencies"].append(elapsed)
            if outcome != "ok":
                results["failures"][outcome] = results["failures"].get(outcome, 0) + 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--addr", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--expect", default="")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-requests", type=int, default=200000)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--tls", action="store_true", help="HTTPS (give the host as --addr)")
    parser.add_argument("--post", metavar="BODY", help="POST this body instead of a GET")
    args = parser.parse_args()
    results = {"sent": 0, "failures": {}, "latencies": [], "stale_retries": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + min(args.duration, 300)
    threads = [threading.Thread(target=worker, args=(args, deadline, results, lock))
               for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = sorted(results["latencies"]) or [0.0]
    print(json.dumps({
        "requests": len(results["latencies"]),
        "failed": sum(results["failures"].values()),
        "failures": results["failures"],
        "stale_keepalive_retries": results["stale_retries"],
        "max_s": round(lat[-1], 4),
        "p50_s": round(lat[len(lat) // 2], 4),
        "p99_s": round(lat[int(len(lat) * 0.99)], 4),
    }))


if __name__ == "__main__":
    main()
