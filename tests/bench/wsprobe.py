#!/usr/bin/env python3
"""One WebSocket subscriber for tests/bench/fanout.sh (MODE=ws), standard
library only, independent of the load client.

    wsprobe.py --port P --path /ws [--host H] [--timeout S] [--probe] [--out FILE]

Sends a handshake with a random key and checks the answer: status 101 and
Sec-WebSocket-Accept = base64(sha1(key + GUID)). With --probe it exits
there: 0 when the handshake was accepted, 1 otherwise (the caller polls with
it until a target is up). Otherwise it writes "OPEN" to --out, then one line
per text or binary message ("MSG <payload>"), "PING"/"PONG" for those, and
"CLOSE <code>" on a close frame, until --timeout seconds have passed since
the start or the server closes. It sends nothing after the handshake.
"""
import argparse
import base64
import hashlib
import os
import socket
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/ws")
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    out = open(a.out, "w", buffering=1) if a.out else sys.stdout

    def left():
        t = deadline - time.monotonic()
        if t <= 0:
            raise TimeoutError
        return t

    key = base64.b64encode(os.urandom(16))
    want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    try:
        s = socket.create_connection((a.host, a.port), timeout=left())
        s.sendall(
            b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
            % (a.path.encode(), a.host.encode(), a.port, key)
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536:
                raise ValueError("oversized head")
            s.settimeout(left())
            d = s.recv(65536)
            if not d:
                raise ValueError("closed during the handshake")
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ")[1] if " " in lines[0] else "?"
        hdrs = {}
        for l in lines[1:]:
            n, _, v = l.partition(":")
            hdrs[n.strip().lower()] = v.strip()
        if status != "101":
            print(f"NOT-OPEN status {status}", file=out)
            return 1
        if hdrs.get("sec-websocket-accept") != want:
            print(f"NOT-OPEN bad Sec-WebSocket-Accept {hdrs.get('sec-websocket-accept')!r}", file=out)
            return 1
        if a.probe:
            return 0
        print("OPEN", file=out)

        def need(n):
            nonlocal buf
            while len(buf) < n:
                s.settimeout(left())
                d = s.recv(65536)
                if not d:
                    raise EOFError
                buf += d
            r, buf = buf[:n], buf[n:]
            return r

        msg = b""
        while True:
            b0, b1 = need(2)
            op, ln = b0 & 0x0F, b1 & 0x7F
            if ln == 126:
                ln = int.from_bytes(need(2), "big")
            elif ln == 127:
                ln = int.from_bytes(need(8), "big")
            mask = need(4) if b1 & 0x80 else None
            data = need(ln)
            if mask:
                print("MASKED-FRAME", file=out)  # a server must not mask
                data = bytes(x ^ mask[i % 4] for i, x in enumerate(data))
            if op in (0, 1, 2):
                msg += data
                if b0 & 0x80:
                    print("MSG " + msg.decode("utf-8", "replace"), file=out)
                    msg = b""
            elif op == 8:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                print(f"CLOSE {code}", file=out)
                return 0
            elif op == 9:
                print("PING", file=out)
            elif op == 10:
                print("PONG", file=out)
            else:
                print(f"BAD-OPCODE {op}", file=out)
                return 1
    except TimeoutError:
        return 0 if not a.probe else 1
    except (OSError, ValueError, EOFError) as e:
        if not a.probe:
            print(f"ERROR {e}", file=out)
        return 1


if __name__ == "__main__":
    sys.exit(main())
