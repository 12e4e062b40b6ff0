"""The load process of perf/fanout.py: many SSE streams on raw non-blocking sockets, one epoll loop.

Started by perf/fanout.py, in a process of its own so that its sockets count against neither the
server's nor the driver's file-descriptor limit. No task or coroutine per stream: one epoll loop
reads whichever sockets are ready, takes the receive time (time.monotonic, CLOCK_MONOTONIC, the
clock the driver stamps its appends with) right after each recv, and picks the `id:` lines out of
the bytes. It talks JSON lines: its orders on stdin, what happened on stdout (`Load` below is
perf/fanout.py's end of the conversation).

    stdin  {"port": P, "key": K, "paths": [[path, count], ...], "opening": 200}
    stdout {"ready": n, "failed": n, "opened_in_s": s, "errors": [...]}    once all have `retry:`
    stdin  {"expect": [ids each stream of path 0 must get, ...], "timeout": s}
    stdout {"arrivals": [[path index, [[seq, t], ...]], ...], "closed": n, "cpu_s": s, ...}
"""

from __future__ import annotations

import errno
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time

from support.live_server import READ_KEY

LOAD_CPU = 1  # where perf/fanout.py pins the load processes (and itself), the server on CPU 0
STREAMS_PER_LOAD = 10_000  # the hard RLIMIT_NOFILE here is 20,000, and each socket needs one


class SseIds:
    """The `id:` fields of one HTTP/1.1 response carrying an SSE stream, fed its bytes as they
    come (split anywhere), with or without chunked transfer coding."""

    __slots__ = (
        "chunked",
        "ended",
        "head",
        "in_body",
        "left",
        "partial",
        "retry",
        "size",
        "status",
    )

    def __init__(self):
        self.head = b""  # the response head, until its blank line
        self.in_body = False
        self.status = 0
        self.chunked = False
        self.left = 0  # bytes of the current chunk's data still to come
        self.size = b""  # a chunk-size line split across reads
        self.partial = b""  # an SSE line split across reads (or chunks)
        self.retry = False  # the stream's `retry:` line has arrived
        self.ended = False  # the last chunk has arrived

    def feed(self, data: bytes) -> list[int]:
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return []
            head, data = self.head[:end].lower(), self.head[end + 4 :]
            self.head, self.in_body = b"", True
            self.status = int(head[9:12])
            self.chunked = b"\r\ntransfer-encoding: chunked" in head
        if not self.chunked:
            return self._lines(data)
        ids: list[int] = []
        at, length = 0, len(data)
        while at < length and not self.ended:
            if self.left:
                piece = data[at : at + self.left]
                self.left -= len(piece)
                at += len(piece)
                ids += self._lines(piece)
                continue
            end = data.find(b"\n", at)
            if end < 0:
                self.size += data[at:]
                break
            line, self.size, at = (self.size + data[at:end]).strip(), b"", end + 1
            if line:  # an empty one is the CRLF after a chunk's data
                self.left = int(line.split(b";", 1)[0], 16)
                self.ended = self.left == 0
        return ids

    def _lines(self, payload: bytes) -> list[int]:
        lines = (self.partial + payload).split(b"\n")
        self.partial = lines.pop()
        ids = []
        for line in lines:
            if line.startswith(b"id:"):
                ids.append(int(line[3:]))  # int() ignores the space and a CR
            elif line.startswith(b"retry:"):
                self.retry = True
        return ids


class Stream:
    __slots__ = ("arrivals", "group", "parser", "sock")

    def __init__(self, group: int):
        self.group = group
        self.parser = SseIds()
        self.arrivals: list[tuple[int, float]] = []
        self.sock: socket.socket | None = None


class Load:
    """A load process: opens its share of the streams, then reports what each received and when.

    `share`: (index into `paths`, streams on that path) pairs."""

    def __init__(self, port: int, paths: list[str], share: list[tuple[int, int]], pinned: bool):
        argv = [sys.executable, "-m", "perf.fanout_load", *([str(LOAD_CPU)] if pinned else [])]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.share = share
        self.tell({"port": port, "key": READ_KEY, "paths": [(paths[g], n) for g, n in share]})

    def tell(self, message: dict) -> None:
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def hear(self, timeout: float) -> dict:
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            raise RuntimeError(f"the load process said nothing in {timeout:.0f} s")
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the load process ended")
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def deal(counts: list[int], parts: int) -> list[list[tuple[int, int]]]:
    """Streams (`counts[group]` on each group) dealt into `parts` nearly equal shares of
    (group, count) pairs."""
    size = -(-sum(counts) // parts)
    shares, share, room = [], [], size
    for group, count in enumerate(counts):
        while count:
            take = min(count, room)
            share.append((group, take))
            count, room = count - take, room - take
            if not room:
                shares.append(share)
                share, room = [], size
    return [*shares, share] if share else shares


def raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run() -> None:
    orders = json.loads(sys.stdin.readline())
    request = {
        group: (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {orders['key']}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        for group, (path, _) in enumerate(orders["paths"])
    }
    streams = [Stream(g) for g, (_, count) in enumerate(orders["paths"]) for _ in range(count)]
    address, opening = ("127.0.0.1", orders["port"]), orders.get("opening", 200)
    poller = select.epoll()
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    poller.register(stdin, select.EPOLLIN)
    by_fd: dict[int, Stream] = {}
    to_open, in_flight, ready, failed, closed = 0, 0, 0, 0, 0
    unsatisfied = -1  # streams still short of what they expect, once that is known
    errors: list[str] = []
    started, said_ready = time.monotonic(), False
    expect: list[int] | None = None
    deadline = 0.0
    orders_text = b""

    def fail(stream: Stream, why: str) -> None:
        nonlocal in_flight, failed
        in_flight -= 1
        failed += 1
        if len(errors) < 10:
            errors.append(why)
        drop(stream)

    def drop(stream: Stream) -> None:
        nonlocal unsatisfied
        if by_fd.pop(stream.sock.fileno(), None):
            poller.unregister(stream.sock.fileno())
        stream.sock.close()
        if expect is not None and len(stream.arrivals) < expect[stream.group]:
            unsatisfied -= 1  # it will get no more

    while True:
        # Open in waves of `opening` at a time: the server's accept queue is finite.
        while to_open < len(streams) and in_flight < opening:
            stream = streams[to_open]
            to_open += 1
            in_flight += 1
            stream.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            stream.sock.setblocking(False)
            code = stream.sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS):
                fail(stream, os.strerror(code))
                continue
            by_fd[stream.sock.fileno()] = stream
            poller.register(stream.sock.fileno(), select.EPOLLOUT)
        if not said_ready and to_open == len(streams) and in_flight == 0:
            said_ready = True
            opened_in = round(time.monotonic() - started, 2)
            say({"ready": ready, "failed": failed, "opened_in_s": opened_in, "errors": errors})
        if expect is not None and (unsatisfied <= 0 or time.monotonic() > deadline):
            break
        for fd, mask in poller.poll(0.2):
            if fd == stdin:
                orders_text += os.read(stdin, 65536)
                if b"\n" in orders_text:
                    finish = json.loads(orders_text)
                    expect, deadline = finish["expect"], time.monotonic() + finish["timeout"]
                    unsatisfied = sum(
                        s.sock.fileno() != -1 and len(s.arrivals) < expect[s.group] for s in streams
                    )
                continue
            stream = by_fd[fd]
            if mask & select.EPOLLOUT:
                code = stream.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    fail(stream, os.strerror(code))
                    continue
                stream.sock.send(request[stream.group])  # a few hundred bytes: sent whole
                poller.modify(fd, select.EPOLLIN)
                continue
            try:
                data = stream.sock.recv(65536)
            except OSError as error:
                data, why = b"", str(error)
            else:
                why = "closed by the server"
            now = time.monotonic()
            parser = stream.parser
            was_ready = parser.retry
            if data:
                arrivals = stream.arrivals
                for seq in parser.feed(data):
                    arrivals.append((seq, now))
                    if expect is not None and len(arrivals) == expect[stream.group]:
                        unsatisfied -= 1
            if not was_ready:
                if parser.in_body and parser.status != 200:
                    fail(stream, f"status {parser.status}")
                    continue
                if parser.retry:
                    in_flight -= 1
                    ready += 1
            if not data or parser.ended:
                if not was_ready and not parser.retry:
                    fail(stream, why)
                else:
                    closed += 1
                    drop(stream)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    say(
        {
            "arrivals": [[s.group, s.arrivals] for s in streams],
            "closed": closed,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        }
    )


if __name__ == "__main__":
    raise_file_limit()
    if len(sys.argv) > 1:
        os.sched_setaffinity(0, {int(sys.argv[1])})
    run()
