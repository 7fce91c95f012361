#!/usr/bin/env python3
"""Hold N TLS connections open for tests/bench/tls.sh.

Each connection completes a full TLS handshake (certificate verified against
--cafile, SNI --sni), sends one HTTP/1.1 GET of --path and reads until
--marker has arrived: the first bytes of a held stream, or the end of a
small keep-alive response. It is then left idle. At most --conc connections
are being set up at once; one that fails is retried (up to --retries times,
100 ms more each time).

Once every connection is ready (or has given up), the client writes a line
to --ready-file and waits for --go-file to appear (at most --go-timeout
seconds), then closes everything and prints one line:

    RESULT ready=N failed=N closed=N connect_s=S proto=... cipher=...

`closed` counts connections that the server closed while they were held.
With --plain the same is done over plain TCP (no TLS), for comparison.
Every wait is bounded in time. Standard library only (asyncio + ssl).
"""
import argparse
import asyncio
import os
import ssl
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sni", default="localhost")
    p.add_argument("--cafile", default="")
    p.add_argument("--path", default="/stream")
    p.add_argument("--marker", required=True)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--conc", type=int, default=64)
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--tls", default="1.2", choices=["1.2", "auto"])
    p.add_argument("--ciphers", default="")
    p.add_argument("--plain", action="store_true", help="plain TCP, no TLS (for comparison)")
    p.add_argument("--accept", default="", help="an Accept header to send")
    p.add_argument("--step-timeout", type=float, default=15.0,
                   help="seconds for one connect + handshake + marker")
    p.add_argument("--connect-timeout", type=float, default=120.0,
                   help="seconds for all connections to be ready")
    p.add_argument("--ready-file", required=True)
    p.add_argument("--go-file", required=True)
    p.add_argument("--go-timeout", type=float, default=300.0)
    return p.parse_args()


class Conn:
    __slots__ = ("reader", "writer", "closed")

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.closed = False


async def open_one(a, ctx, request, marker):
    if ctx is None:
        reader, writer = await asyncio.open_connection(a.host, a.port)
    else:
        reader, writer = await asyncio.open_connection(
            a.host, a.port, ssl=ctx, server_hostname=a.sni,
            ssl_handshake_timeout=a.step_timeout)
    try:
        writer.write(request)
        await writer.drain()
        seen = b""
        while marker not in seen:
            chunk = await reader.read(4096)
            if not chunk:
                raise ConnectionError("closed before the marker")
            if seen == b"" and not chunk.startswith(b"HTTP/1.1 200"):
                raise ConnectionError("not a 200: %r" % chunk[:40])
            seen = (seen + chunk)[-4096:]
    except BaseException:
        writer.close()
        raise
    return Conn(reader, writer)


async def watch(c):
    """Notice a server-side close while the connection is held."""
    try:
        while True:
            chunk = await c.reader.read(4096)
            if not chunk:
                c.closed = True
                return
    except (ConnectionError, ssl.SSLError, OSError):
        c.closed = True


async def main():
    a = parse_args()
    ctx = None
    if not a.plain:
        ctx = ssl.create_default_context(cafile=a.cafile)
        ctx.check_hostname = True
        if a.tls == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if a.ciphers:
            ctx.set_ciphers(a.ciphers)
        # no session tickets: a server that issues them would keep state for them
        ctx.options |= ssl.OP_NO_TICKET
    accept = "Accept: %s\r\n" % a.accept if a.accept else ""
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlshold\r\n%s\r\n"
               % (a.path, a.sni, accept)).encode()
    marker = a.marker.encode()
    sem = asyncio.Semaphore(a.conc)
    conns = []
    failed = 0
    errors = {}
    t0 = time.monotonic()
    deadline = t0 + a.connect_timeout

    async def one():
        nonlocal failed
        async with sem:
            for attempt in range(a.retries + 1):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    c = await asyncio.wait_for(open_one(a, ctx, request, marker),
                                               min(a.step_timeout, left))
                    conns.append(c)
                    return
                except (asyncio.TimeoutError, ConnectionError, ssl.SSLError, OSError) as e:
                    k = type(e).__name__ + ": " + str(e)[:80]
                    errors[k] = errors.get(k, 0) + 1
                    await asyncio.sleep(0.1 * (attempt + 1))
            failed += 1

    await asyncio.gather(*(one() for _ in range(a.conns)))
    connect_s = time.monotonic() - t0
    proto = cipher = "-"
    if conns:
        so = conns[0].writer.get_extra_info("ssl_object") if ctx else None
        if so is not None:
            proto = so.version() or "-"
            cipher = (so.cipher() or ("-",))[0]
    for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        print("tlshold: %d x %s" % (v, k), file=sys.stderr)
    watchers = [asyncio.ensure_future(watch(c)) for c in conns]
    with open(a.ready_file + ".tmp", "w") as f:
        f.write("ready=%d failed=%d\n" % (len(conns), failed))
    os.replace(a.ready_file + ".tmp", a.ready_file)
    end = time.monotonic() + a.go_timeout
    while not os.path.exists(a.go_file) and time.monotonic() < end:
        await asyncio.sleep(0.1)
    closed = sum(1 for c in conns if c.closed)
    for w in watchers:
        w.cancel()
    for c in conns:
        c.writer.close()
    await asyncio.sleep(0.2)
    print("RESULT ready=%d failed=%d closed=%d connect_s=%.2f proto=%s cipher=%s"
          % (len(conns), failed, closed, connect_s, proto, cipher))


if __name__ == "__main__":
    asyncio.run(main())
