//! Which addresses an outgoing call made on a caller's behalf (a webhook) may connect to. An admin token
//! names a webhook URL; without this rule rondo would POST wherever it points — the cloud metadata service
//! at 169.254.169.254, the database on 10.0.0.5, an admin port on 127.0.0.1 — and report each answer's
//! status: a port scanner of the network rondo runs in. Pure: the caller resolves names and asks here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is inside the network rondo runs in, or no single host at all: loopback, private
/// (RFC 1918, fc00::/7), link-local (169.254/16, fe80::/10), unspecified and "this network" (0.0.0.0/8),
/// shared address space (CGNAT, 100.64/10), multicast, broadcast and the reserved 240/4. IPv6 forms that
/// carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`)
/// are judged by that IPv4 address, since that is where the packets end up.
pub fn is_forbidden_destination(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // "this network", including the unspecified 0.0.0.0
        || ip.is_loopback() // 127/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), 100.64/10
        || ip.is_multicast() // 224/4
        || a >= 240 // reserved 240/4, and the broadcast 255.255.255.255
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // `to_ipv4` covers the mapped (::ffff:0:0/96) and compatible (::/96) forms; `::` and `::1` land in
    // 0.0.0.0/8 there, so they are refused too.
    if let Some(v4) = ip.to_ipv4() {
        return forbidden_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = s;
        return forbidden_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // the retired site-local, fec0::/10: still private where used
        || ip.is_multicast() // ff00::/8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden_destination(s.parse().unwrap())
    }

    #[test]
    fn internal_ipv4_destinations_are_forbidden() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_ipv4_destinations_are_allowed() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "169.253.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "223.255.255.255",
            "11.0.0.1",
            "126.255.255.255",
            "128.0.0.1",
        ] {
            assert!(!forbidden(ip), "{ip} is public");
        }
    }

    #[test]
    fn internal_ipv6_destinations_are_forbidden() {
        for ip in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(forbidden(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn ipv6_forms_of_internal_ipv4_are_forbidden() {
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:7f00:1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::ffff:255.255.255.255",
            "::127.0.0.1",
            "::10.0.0.1",
            "::169.254.169.254",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::169.254.169.254",
        ] {
            assert!(forbidden(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_ipv6_destinations_are_allowed() {
        for ip in [
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "64:ff9b::808:808",
            "fbff::1",
            "fe00::1",
        ] {
            assert!(!forbidden(ip), "{ip} is public");
        }
    }
}
