# SPDX-License-Identifier: MIT
"""pcapgen: deterministic test captures for bindwatch, built byte by byte.

Library layout:
  pcapfile   pcap / pcapng writers (Frame)
  net        link layers, IPv4/IPv6 (+fragments, options, extension headers),
             UDP/TCP, tunnels (GRE, ERSPAN I/II/III, VXLAN, GENEVE, IP-in-IP)
  dns        DNS message builder with name compression, presentation-format
             rdata encoder and decoder
  scenario   the scenario registry, Capture (frames + truth), TcpSession
  scenarios_dns  the bundled DNS captures
  tls        TLS/SSL/DTLS record and handshake builder, JA3/JA3S/JA4
  scenarios_tls  the bundled TLS captures and the certificate validation suite
  scenarios_alerts  the alert demo capture and the alert suite (tests/alerts/)

Add a capture: write a function in a scenarios_*.py module decorated with
@scenario("name", "one-line help"), fill the Capture it receives, and import
the module below. tools/pcapgen.py --list shows it, --all regenerates it.
"""

from . import dns, net, pcapfile, tls  # noqa: F401
from .scenario import REGISTRY, Capture, TcpSession, scenario  # noqa: F401
from . import scenarios_dns  # noqa: F401  (registers the DNS scenarios)
from . import scenarios_tls  # noqa: F401  (registers the TLS scenarios)
from . import scenarios_alerts  # noqa: F401  (registers the alert demo capture)


def build(name, seed=1):
    """Run scenario `name` and return its filled Capture."""
    fn, _help = REGISTRY[name]
    cap = Capture(name, seed)
    fn(cap)
    return cap
