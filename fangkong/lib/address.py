"""The address put in links and QR codes when no public address is configured.

Handed-out links (personal links, self-declaration posters, the verify address printed on
PDF notices) must reach the server from people's phones. FANGKONG_PUBLIC_URL comes first;
without it they follow the address the server was started on (FANGKONG_BIND / `fangkong
run --bind`), never a request's Host header, which a client controls. A server bound to
every interface (0.0.0.0, ::) is reached at the machine's own address on its network,
found by asking the system which interface a datagram to another network would leave by
(no packet is sent)."""
from __future__ import annotations

import socket


def machine_address() -> str:
    for family, probe in ((socket.AF_INET, ("10.255.255.255", 9)), (socket.AF_INET6, ("fd00::1", 9))):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect(probe)
                address = s.getsockname()[0]
        except OSError:
            continue
        if address and not address.startswith(("0.", "127.", "::")):
            return address if family == socket.AF_INET else f"[{address}]"
    return "127.0.0.1"


def public_url_for_bind(bind: str) -> str:
    """http://HOST[:PORT] of a gunicorn-style bind address ("HOST:PORT", ":PORT", "[::]:PORT")."""
    bind = (bind or "").strip() or "127.0.0.1:8000"
    if bind.startswith("unix:"):
        return "http://127.0.0.1"
    host, _sep, port = bind.rpartition(":")
    if not _sep or not port.isdigit():
        host, port = bind, "8000"
    host = host.strip()
    if host in ("", "0.0.0.0", "[::]", "::", "*"):
        host = machine_address()
    return f"http://{host}" + ("" if port == "80" else f":{port}")
