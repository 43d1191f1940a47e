"""Time from spawning a client to its first request's bytes at a loopback listener.

    python3 scripts/lib/first_request.py RUNS NAME=COMMAND [NAME=COMMAND ...]

COMMAND is split on spaces; `{url}` becomes http://127.0.0.1:PORT/ of a fresh listener
per run. The listener answers every request with a 2-byte 200 until the client exits
(killed after 10 s). Rounds alternate between the commands. Prints, per command, the
median and the 10th and 90th percentiles in ms.

What it measures is what issue 6's start-up target names ("to the first request"):
process start, dynamic loading, argument parsing, set-up, the connect, and the write,
up to the moment the request is readable at the server. The listener's own wake-up is
included (tens of µs), equally for every client. Loopback only.
"""

import os
import select
import socket
import statistics
import sys
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def serve(ls, conns, timeout):
    """One select turn: accepts, answers requests. Returns True if a request came."""
    got = False
    readable, _, _ = select.select([ls] + conns, [], [], timeout)
    for s in readable:
        if s is ls:
            c, _ = ls.accept()
            conns.append(c)
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if data:
            got = True
            try:
                s.sendall(RESPONSE)
            except OSError:
                pass
        else:
            conns.remove(s)
            s.close()
    return got


def once(template):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    url = f"http://127.0.0.1:{ls.getsockname()[1]}/"
    argv = [a.replace("{url}", url) for a in template.split()]
    devnull = os.open(os.devnull, os.O_WRONLY)
    conns = []
    first = None
    t0 = time.perf_counter_ns()
    pid = os.posix_spawnp(
        argv[0],
        argv,
        os.environ,
        file_actions=[
            (os.POSIX_SPAWN_DUP2, devnull, 1),
            (os.POSIX_SPAWN_DUP2, devnull, 2),
        ],
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if first is None:
                if serve(ls, conns, 0.5):
                    first = time.perf_counter_ns()
            else:
                serve(ls, conns, 0.01)
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = None
                break
    finally:
        if pid is not None:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        for c in conns:
            c.close()
        ls.close()
        os.close(devnull)
    if first is None:
        sys.exit(f"first_request.py: {argv[0]} sent no request")
    return (first - t0) / 1e6


def main():
    runs = int(sys.argv[1])
    cmds = [a.split("=", 1) for a in sys.argv[2:]]
    times = {name: [] for name, _ in cmds}
    for _ in range(runs):
        for name, template in cmds:
            times[name].append(once(template))
    print("| client | to the first request, median ms | p10 | p90 | runs |")
    print("|---|--:|--:|--:|--:|")
    for name, v in times.items():
        v = sorted(v)
        p10, p90 = v[len(v) // 10], v[min(len(v) - 1, len(v) * 9 // 10)]
        print(f"| {name} | {statistics.median(v):.2f} | {p10:.2f} | {p90:.2f} | {len(v)} |")


if __name__ == "__main__":
    main()
