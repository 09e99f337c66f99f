"""Which IP addresses are on the public internet: the rule outbound requests follow.

Loopback, private, link-local, shared (100.64/10), multicast, reserved and
unspecified addresses are not; nor are IPv6 site-local and unique-local ones.
An IPv6 address that stands for an IPv4 one (mapped, compatible, NAT64, 6to4)
is judged by the IPv4 address inside it.
"""

import ipaddress

NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet: the address rule."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public_address(str(embedded))
        if ip.sixtofour is not None and not is_public_address(str(ip.sixtofour)):
            return False
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback or ip.is_link_local
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64 or int(ip) >> 32 == 0:  # 64:ff9b::a.b.c.d, ::a.b.c.d (also :: and ::1)
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
