"""A stand-in for redis, the Blot app or nginx, for `cargo xtask bench`'s "start to all
healthy" row: the fake upstart runs it as the job's process (an exec hook).

    python3 standin.py redis|app|nginx PORT READY_MS

It answers nothing for READY_MS (the service's own start-up: connections are refused, as
they are before the real one listens), then listens on 127.0.0.1:PORT and answers as the
real service does, no kinder:
- redis: `+PONG` to PING, an error to anything else;
- app: 200 to `GET /health` only when the Host header's name is `localhost` (Blot answers
  its health route for no other host: 404 "There is no blog at this address.");
- nginx: 200 to `GET /health` (Blot's nginx config answers it itself), 404 otherwise.
"""

import socket
import sys
import time


def request(conn, end):
    got = b""
    while end not in got and len(got) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def http(status, body):
    reason = {200: "OK", 404: "Not Found"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n{body}"
    ).encode()


def answer(kind, req):
    if kind == "redis":
        return b"+PONG\r\n" if req.strip().upper() == b"PING" else b"-ERR unknown command\r\n"
    head = req.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    target = head[0].split(" ")[1] if len(head[0].split(" ")) > 1 else ""
    host = ""
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "host":
            host = value.strip().rsplit(":", 1)[0] if value.strip().count(":") == 1 else value.strip()
    if kind == "app" and host != "localhost":
        return http(404, "There is no blog at this address.")
    return http(200, "OK") if target == "/health" else http(404, "Not Found")


def main():
    kind, port, ready_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    time.sleep(ready_ms / 1000)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    end = b"\r\n" if kind == "redis" else b"\r\n\r\n"
    while True:
        conn, _ = s.accept()
        with conn:
            conn.settimeout(2)
            try:
                conn.sendall(answer(kind, request(conn, end)))
            except OSError:
                pass


if __name__ == "__main__":
    main()
