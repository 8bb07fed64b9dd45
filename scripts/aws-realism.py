#!/usr/bin/env python3
"""AWS as it really answers, in front of moto: the realism layer of wharf's
tests and benchmarks.

moto answers every list in one page, at once, and never throttles. This proxy
sits between a client and moto and adds what AWS does:

  * a round-trip latency per call (default 40 ms);
  * ECS and ECR lists paged as the services page them: ListServices 10 a page
    unless maxResults asks for more (100 at most); ListTasks, ListClusters,
    ListTaskDefinitions 100; ECR DescribeRepositories, DescribeImages and
    ListImages 100 by default, 1,000 at most; moto's full answer is cut into
    pages with nextTokens of the proxy's own;
  * DescribeServices refuses more than 10 services a call, DescribeTasks 100;
  * ECS's token-bucket quotas ("Request throttling for the Amazon ECS API"),
    one bucket per group of actions, answering ThrottlingException when empty.
    Default: every group 50 burst and 20 a second (the service-read bucket the
    docs give as the example); `--bucket service_read=50/20` sets one.

Everything else (S3, CloudWatch Logs, moto's own /moto-api/) passes through
with the latency; ListMultipartUploads says when each upload began (moto
says 2010 for all); the RPC v2 CBOR APIs (CloudWatch's GetMetricData …)
carry timestamps as doubles, as AWS sends them (moto sends whole seconds as
integers, which the Rust SDK refuses). `--fail ACTION=N` makes the first N calls of ACTION fail
as AWS's servers sometimes do (HTTP 500: InternalError for S3, a
ServerException for the JSON APIs), for the retries to be seen; ACTION is an
X-Amz-Target's action (`ListServices`) or an S3 call as the stats name it
(`s3:PUT:part` is UploadPart, `s3:GET:range` a ranged GET). `--lose ACTION=N`
does the first N S3 calls of ACTION upstream and then answers 500, as when
an answer is lost on the way back (the client's retry then meets its own write).
`--up-mbit N` and `--down-mbit N` carry request and answer bodies at a home
line's speed (one line shared by every call at once), and the stats count
the bytes carried each way. `GET /realism/stats` answers calls per action, pages served,
calls throttled, refused and failed, and the most S3 calls of a kind under way
at once, as JSON; `POST /realism/reset` zeroes them and refills
the buckets; `POST /realism/fail` with `ACTION=N` as its body makes the next N
calls of ACTION fail from then on (`ACTION=0` ends it), for a failure in the
middle of a run.

  aws-realism.py --upstream http://127.0.0.1:5000 [--port 0] [--latency-ms 40]
                 [--bucket GROUP=BURST/RATE ...] [--fail ACTION=N ...] [--lose ACTION=N ...]

It prints `listening on http://127.0.0.1:PORT` and its settings on stdout
once it is ready.
"""

import argparse
import base64
import http.client
import json
import os
import re
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ECS = "AmazonEC2ContainerServiceV20141113."
ECR = "AmazonEC2ContainerRegistry_V20150921."

# Action → (the list's key in the answer, page size by default, at most).
PAGED = {
    ECS + "ListServices": ("serviceArns", 10, 100),
    ECS + "ListTasks": ("taskArns", 100, 100),
    ECS + "ListClusters": ("clusterArns", 100, 100),
    ECS + "ListTaskDefinitions": ("taskDefinitionArns", 100, 100),
    ECR + "DescribeRepositories": ("repositories", 100, 1000),
    ECR + "DescribeImages": ("imageDetails", 100, 1000),
    ECR + "ListImages": ("imageIds", 100, 1000),
}

# Action → (the request's list, the most it may hold).
BOUNDED = {
    ECS + "DescribeServices": ("services", 10),
    ECS + "DescribeTasks": ("tasks", 100),
}

# ECS action → its throttling group.
GROUPS = {
    "ListServices": "service_read",
    "DescribeServices": "service_read",
    "ListClusters": "cluster_read",
    "DescribeClusters": "cluster_read",
    "ListTasks": "task_read",
    "DescribeTasks": "task_read",
    "DescribeTaskDefinition": "task_definition_read",
    "ListTaskDefinitions": "task_definition_read",
}


class Bucket:
    """A token bucket: `burst` tokens, refilled at `rate` a second."""

    def __init__(self, burst, rate):
        self.burst, self.rate = float(burst), float(rate)
        self.tokens, self.at = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False

    def refill(self):
        with self.lock:
            self.tokens, self.at = self.burst, time.monotonic()


class Link:
    """One direction of the client's line at `mbit` megabits a second, shared
    by every call at once (a home connection is one line): each piece waits
    for its turn on the line."""

    PIECE = 64 * 1024

    def __init__(self, mbit):
        self.rate = mbit * 1_000_000 / 8 if mbit else None  # bytes a second; None: no limit
        self.free_at = 0.0
        self.lock = threading.Lock()

    def carry(self, n):
        """Waits as long as `n` bytes take on the line, after what is already on it."""
        if not self.rate or n <= 0:
            return
        with self.lock:
            now = time.monotonic()
            self.free_at = max(now, self.free_at) + n / self.rate
            wait = self.free_at - now
        time.sleep(wait)


class Realism:
    def __init__(self, upstream, latency, buckets, failures=None, losses=None, up_mbit=None, down_mbit=None):
        parsed = urllib.parse.urlsplit(upstream)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.latency = latency
        self.buckets = buckets  # group → (burst, rate)
        self.failures = dict(failures or {})  # action → calls left to fail
        self.losses = dict(losses or {})  # action → calls left whose answers are lost
        self.up, self.down = Link(up_mbit), Link(down_mbit)
        self.live = {}
        # When each multipart upload began, by its id (see multipart_times).
        self.initiated = {}
        # A list's whole answer, kept for its further pages: AWS serves a page
        # in a round trip, where moto would build the whole list again.
        self.lists = {}
        self.lock = threading.Lock()
        self.local = threading.local()
        self.reset()

    def reset(self):
        with self.lock:
            self.stats = {
                "calls": {}, "pages": {}, "throttled": {}, "refused": {}, "failed": {}, "lost": {}, "most_at_once": {},
                # Bodies carried, client → AWS and back (what a metered line counts).
                "bytes": {"up": 0, "down": 0},
            }
            self.in_flight = {}
            self.live = {g: Bucket(b, r) for g, (b, r) in self.buckets.items()}

    def count(self, kind, action):
        with self.lock:
            self.stats[kind][action] = self.stats[kind].get(action, 0) + 1

    def enter(self, action):
        """One more call of `action` under way; the most at once is kept."""
        with self.lock:
            now = self.in_flight.get(action, 0) + 1
            self.in_flight[action] = now
            most = self.stats["most_at_once"]
            most[action] = max(most.get(action, 0), now)

    def leave(self, action):
        with self.lock:
            self.in_flight[action] -= 1

    def should_fail(self, action):
        """Whether this call of `action` is one of those made to fail."""
        with self.lock:
            left = self.failures.get(action, 0)
            if left <= 0:
                return False
            self.failures[action] = left - 1
            self.stats["failed"][action] = self.stats["failed"].get(action, 0) + 1
            return True

    def should_lose(self, action):
        """Whether the answer to this call of `action` (done upstream) is lost."""
        with self.lock:
            left = self.losses.get(action, 0)
            if left <= 0:
                return False
            self.losses[action] = left - 1
            self.stats["lost"][action] = self.stats["lost"].get(action, 0) + 1
            return True

    def bucket(self, action):
        group = GROUPS.get(action, "other")
        with self.lock:
            if group not in self.live:
                burst, rate = self.buckets.get(group, self.buckets.get("default", (50, 20)))
                self.live[group] = Bucket(burst, rate)
            return self.live[group]

    def upstream(self, method, path, headers, body):
        """moto's answer, over one kept-alive connection per thread."""
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def multipart_times(self, method, query, answer):
        """moto answers every ListMultipartUploads with one Initiated time of
        2010; AWS with when each upload began. The layer remembers when it saw
        each CreateMultipartUpload and puts that time in (uploads it never saw
        keep moto's)."""
        status, headers, body = answer
        if status != 200 or "uploads" not in urllib.parse.parse_qs(query, keep_blank_values=True):
            return answer
        text = body.decode("utf-8", "replace")
        if method == "POST":
            for upload_id in re.findall(r"<UploadId>([^<]*)</UploadId>", text):
                with self.lock:
                    self.initiated[upload_id] = time.time()
            return answer
        if method != "GET":
            return answer

        def initiated(upload):
            found = re.search(r"<UploadId>([^<]*)</UploadId>", upload.group(0))
            with self.lock:
                at = self.initiated.get(found.group(1)) if found else None
            if at is None:
                return upload.group(0)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".000Z"
            return re.sub(r"<Initiated>[^<]*</Initiated>", f"<Initiated>{stamp}</Initiated>", upload.group(0))

        text = re.sub(r"<Upload>.*?</Upload>", initiated, text, flags=re.S)
        return status, headers, text.encode()

    def settings(self):
        groups = ", ".join(f"{g} {b}/{r}/s" for g, (b, r) in sorted(self.buckets.items()))
        failing = "".join(f"; the first {n} {a} fail" for a, n in sorted(self.failures.items()))
        line = "".join(
            f"; {name} {link.rate * 8 / 1e6:g} Mbit/s" for name, link in (("up", self.up), ("down", self.down)) if link.rate
        )
        return f"latency {self.latency * 1000:.0f} ms; ECS buckets (burst/refill): {groups}; ECS and ECR lists paged as AWS pages them{failing}{line}"


def cbor_timestamps_as_doubles(data):
    """The CBOR document `data` with every timestamp (tag 1) holding an
    integer re-encoded as a double, as AWS encodes them; the rest as it was."""
    out = bytearray()

    def head(i):
        info = data[i] & 31
        if info < 24:
            return info, i + 1
        if info == 31:
            return None, i + 1
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        return int.from_bytes(data[i + 1:i + 1 + size], "big"), i + 1 + size

    def item(i):
        major = data[i] >> 5
        value, end = head(i)
        if major == 6 and value == 1 and data[end] >> 5 in (0, 1):
            seconds, after = head(end)
            seconds = seconds if data[end] >> 5 == 0 else -1 - seconds
            out.extend(data[i:end])
            out.extend(b"\xfb" + struct.pack(">d", float(seconds)))
            return after
        out.extend(data[i:end])
        if major in (2, 3) and value is not None:
            out.extend(data[end:end + value])
            return end + value
        if major == 7 or major in (0, 1):
            return end
        if major == 6:
            return item(end)
        count = None if value is None else value * (2 if major == 5 else 1)
        done = 0
        while (count is None and data[end] != 0xFF) or (count is not None and done < count):
            end = item(end)
            done += 1
        if count is None:
            out.append(0xFF)
            end += 1
        return end

    item(0)
    return bytes(out)


def make_handler(realism):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def answer(self, status, headers, body):
            self.send_response(status)
            skip = {"content-length", "transfer-encoding", "connection", "server", "date"}
            length = str(len(body))
            for name, value in headers:
                if name.lower() == "content-length" and self.command == "HEAD":
                    length = value  # a HEAD's length is the object's, with no body
                elif name.lower() not in skip:
                    self.send_header(name, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                if not self.path.startswith("/realism/"):
                    with realism.lock:
                        realism.stats["bytes"]["down"] += len(body)
                for at in range(0, len(body), Link.PIECE):
                    piece = body[at : at + Link.PIECE]
                    realism.down.carry(len(piece))
                    self.wfile.write(piece)

        def error(self, status, kind, message):
            body = json.dumps({"__type": kind, "message": message}).encode()
            self.answer(status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", kind)], body)

        def handle_any(self):
            body = self.body()
            if not self.path.startswith("/realism/"):
                with realism.lock:
                    realism.stats["bytes"]["up"] += len(body)
                for at in range(0, len(body), Link.PIECE):
                    realism.up.carry(min(Link.PIECE, len(body) - at))
            if self.path.startswith("/realism/"):
                if self.path == "/realism/reset":
                    realism.reset()
                if self.path == "/realism/fail":
                    # ACTION=N in the body: from now on the next N calls of ACTION fail (0: none).
                    action, _, n = body.decode().strip().partition("=")
                    with realism.lock:
                        realism.failures[action] = int(n)
                with realism.lock:
                    stats = json.dumps(realism.stats).encode()
                return self.answer(200, [("Content-Type", "application/json")], stats)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "connection")}
            headers["Content-Length"] = str(len(body))
            target = self.headers.get("X-Amz-Target", "")
            if not target and self.path.startswith("/moto-api"):
                return self.answer(*realism.upstream(self.command, self.path, headers, body))
            if not target and self.path.startswith("/service/") and "/operation/" in self.path:
                # Smithy RPC v2 CBOR: /service/SERVICE/operation/ACTION.
                action = self.path.rsplit("/", 1)[-1]
                realism.count("calls", action)
                time.sleep(realism.latency)
                if realism.should_fail(action):
                    return self.error(500, "ServerException", "Internal failure (made by the realism layer)")
                status, answer_headers, answer = realism.upstream(self.command, self.path, headers, body)
                if status == 200 and answer:
                    answer = cbor_timestamps_as_doubles(answer)
                    answer_headers = [(k, str(len(answer)) if k.lower() == "content-length" else v)
                                      for k, v in answer_headers]
                return self.answer(status, answer_headers, answer)
            if not target:
                query = urllib.parse.urlsplit(self.path).query
                kind = ":list" if "list-type" in query else ":part" if "partNumber=" in query else ""
                if self.command == "GET" and self.headers.get("Range"):
                    kind = ":range"
                action = f"s3:{self.command}{kind}"
                realism.count("calls", action)
                realism.enter(action)
                try:
                    time.sleep(realism.latency)
                    xml = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>"
                    if realism.should_fail(action):
                        return self.answer(500, [("Content-Type", "application/xml")], xml)
                    answer = realism.upstream(self.command, self.path, headers, body)
                    if answer[0] < 300 and realism.should_lose(action):
                        # Done upstream, but the answer never arrives: the client must not trust a retry's 412.
                        return self.answer(500, [("Content-Type", "application/xml")], xml)
                finally:
                    realism.leave(action)
                return self.answer(*realism.multipart_times(self.command, query, answer))
            time.sleep(realism.latency)
            realism.count("calls", target)
            if realism.should_fail(target.split(".")[-1]):
                return self.error(500, "ServerException", "Internal failure (made by the realism layer)")
            if target.startswith(ECS):
                action = target[len(ECS):]
                if not realism.bucket(action).take():
                    realism.count("throttled", target)
                    return self.error(400, "ThrottlingException", "Rate exceeded")
            request = json.loads(body or b"{}")
            if target in BOUNDED:
                key, most = BOUNDED[target]
                if len(request.get(key, [])) > most:
                    realism.count("refused", target)
                    return self.error(400, "InvalidParameterException", f"{key} can have at most {most} items")
            if target not in PAGED:
                return self.answer(*realism.upstream(self.command, self.path, headers, body))
            key, default, most = PAGED[target]
            size = request.pop("maxResults", None) or default
            if size < 1 or size > most:
                realism.count("refused", target)
                return self.error(400, "InvalidParameterException", f"maxResults must be between 1 and {most}")
            token = request.pop("nextToken", None)
            offset = json.loads(base64.b64decode(token))["offset"] if token else 0
            whole = json.dumps(request, sort_keys=True).encode()
            with realism.lock:
                kept = realism.lists.get((target, whole)) if token else None
            if kept is not None:
                full = kept
            else:
                headers["Content-Length"] = str(len(whole))
                status, answer_headers, answer = realism.upstream(self.command, self.path, headers, whole)
                if status != 200:
                    return self.answer(status, answer_headers, answer)
                full = json.loads(answer)
                with realism.lock:
                    if len(realism.lists) > 256:
                        realism.lists.clear()
                    realism.lists[(target, whole)] = full
            items = full.get(key, [])
            page = dict(full)
            page.pop("nextToken", None)
            page[key] = items[offset:offset + size]
            if offset + size < len(items):
                page["nextToken"] = base64.b64encode(json.dumps({"offset": offset + size}).encode()).decode()
            realism.count("pages", target)
            self.answer(200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(page).encode())

        def handle_quietly(self):
            try:
                self.handle_any()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (a dashboard quit mid-load)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_quietly

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--bucket", action="append", default=[], metavar="GROUP=BURST/RATE")
    parser.add_argument("--fail", action="append", default=[], metavar="ACTION=N")
    parser.add_argument("--lose", action="append", default=[], metavar="ACTION=N")
    parser.add_argument("--up-mbit", type=float, default=None, help="the client's upload bandwidth (megabits a second)")
    parser.add_argument("--down-mbit", type=float, default=None, help="the client's download bandwidth")
    args = parser.parse_args()
    failures, losses = {}, {}
    for spec in args.fail:
        action, n = spec.rsplit("=", 1)
        failures[action] = int(n)
    for spec in args.lose:
        action, n = spec.rsplit("=", 1)
        losses[action] = int(n)
    buckets = {"default": (50, 20), "service_read": (50, 20)}
    for spec in args.bucket:
        group, quota = spec.split("=")
        burst, rate = quota.split("/")
        buckets[group] = (float(burst), float(rate))
    realism = Realism(args.upstream, args.latency_ms / 1000.0, buckets, failures, losses, args.up_mbit, args.down_mbit)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(realism))
    server.daemon_threads = True
    try:
        print(f"listening on http://{args.host}:{server.server_address[1]}\n{realism.settings()}", flush=True)
    except BrokenPipeError:
        pass  # whoever started it read what it needed and stopped listening
    sys.stdout = open(os.devnull, "w")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
