"""Free 127.0.0.1 ports from the OS (never fixed numbers: other test runs share the host)."""

from __future__ import annotations

import socket

__all__ = ["LOCALHOST", "free_sip_port", "free_udp_port", "free_udp_range"]

LOCALHOST = "127.0.0.1"


def free_udp_port(host: str = LOCALHOST) -> int:
    """A UDP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_sip_port(host: str = LOCALHOST) -> int:
    """A port free over UDP and TCP alike a moment ago (baresip listens for SIP on both)."""
    for _ in range(50):
        port = free_udp_port(host)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind((host, port))
        except OSError:
            continue  # taken over TCP: another
        return port
    raise OSError(f"no port free over UDP and TCP on {host}")


def free_udp_range(size: int, host: str = LOCALHOST) -> tuple[int, int]:
    """``size`` consecutive UDP ports free a moment ago (an RTP range for one process)."""
    for _ in range(50):
        base = free_udp_port(host)
        base -= base % 2  # RTP on even ports
        if base + size > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base, base + size - 1
    raise OSError(f"no {size} consecutive free UDP ports on {host}")
