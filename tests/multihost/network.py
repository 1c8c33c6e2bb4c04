"""A private network of "hosts" for the multi-host test: one Linux bridge in the root namespace
(the services' side, where PostgreSQL, Redis and the object store are reached) and one network
namespace per host, joined to the bridge by a veth pair.

PostgreSQL and Redis listen on loopback only and keep their configuration: a relay process
(:mod:`tests.multihost.relay`), listening on the bridge's address, forwards each to it.
Everything built here is removed by :meth:`Network.close`, also after a failure halfway
through building it.
"""

import ipaddress
import os
import subprocess
import sys
from dataclasses import dataclass, field

from tests.conftest import ROOT


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.213.0.0/16 that no route of this machine uses (another test run's bridge
    keeps its own)."""
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True,
                            check=True).stdout
    for third in [os.getpid() % 200 + 20, *range(20, 250)]:
        subnet = ipaddress.ip_network(f"10.213.{third}.0/24")
        if str(subnet) not in routes:
            return subnet
    raise RuntimeError("no free /24 in 10.213.0.0/16 for the multi-host test's bridge")


@dataclass
class Network:
    """The bridge, its namespaces and relays; ``address`` is the services' side."""

    tag: str = field(default_factory=lambda: f"pdm{os.getpid() % 100000}")
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    namespaces: list[str] = field(default_factory=list)
    relays: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self):
        self.bridge = f"{self.tag}br"
        self.address = str(self.subnet.network_address + 1)
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        except Exception:
            self.close()
            raise

    def add_host(self, name: str) -> tuple[str, str]:
        """A namespace for host ``name`` on the bridge: its name and its address."""
        index = len(self.namespaces)
        namespace = f"podium-{self.tag}-{name}"
        outer, inner = f"{self.tag}v{index}", f"{self.tag}p{index}"
        address = str(self.subnet.network_address + 10 + index)
        ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", namespace)
        ip("link", "set", outer, "master", self.bridge, "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inner)
        ip("-n", namespace, "link", "set", inner, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        return namespace, address

    def relay(self, port: int, target_host: str, target_port: int) -> None:
        """Forward ``address:port`` on the bridge to ``target_host:target_port``."""
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.multihost.relay", self.address, str(port),
             target_host, str(target_port)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.relays.append(process)
        first = process.stdout.readline()
        if first.strip() != "listening":
            raise RuntimeError(f"the relay of port {port} did not start: {first}"
                               f"{process.stdout.read() if process.poll() is not None else ''}")

    def close(self) -> None:
        for process in self.relays:
            process.kill()
            process.wait(timeout=10)
        for namespace in self.namespaces:
            # The veth pair goes with its namespace.
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
