"""Where a webhook may point, pure: never at a link-local or cloud metadata address (a webhook
must not become a way to read the host's cloud credentials), and, where a setting says so, never at
loopback or private ranges either (allowed by default: tests and many intranets receive there)."""

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

ALWAYS_BLOCKED = (
    ip_network("169.254.0.0/16"),  # link-local, with the metadata service of most clouds at .169.254
    ip_network("fe80::/10"),  # link-local
    ip_network("100.100.100.200/32"),  # Alibaba Cloud's metadata service
    ip_network("fd00:ec2::254/128"),  # AWS's metadata service over IPv6
)
SHARED = ip_network("100.64.0.0/10")  # carrier-grade NAT: private in all but name


def refusal(address: str, *, block_private: bool) -> str | None:
    """Why a webhook may not be sent to this IP address, or None if it may."""
    ip: IPv4Address | IPv6Address = ip_address(address)
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in network for network in ALWAYS_BLOCKED):
        return "resolves to a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified:
        return "resolves to an address that is not one host's"
    if ip.is_loopback or ip.is_private or ip in SHARED:
        return "resolves to a loopback or private address, which this deployment blocks" if block_private else None
    if ip.is_reserved:
        return "resolves to an address that is not one host's"
    return None
