//! Which hosts count as this machine: where plain HTTP may carry a
//! credential (a local registry, an engine on a loopback port).

use std::net::IpAddr;

/// Whether `host` (`name`, `name:port`, `[v6]:port`) is this machine:
/// `localhost`, or an address that parses as loopback. A name that merely
/// starts with `127.` (`127.example.com`) is not.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None if host.matches(':').count() > 1 => host,
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_this_machine_is_loopback() {
        for host in ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:443", "[::1]:5000", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in
            ["127.example.com", "127.0.0.1.nip.io:5000", "10.0.0.1:2375", "example.com", "[2001:db8::1]:5000"]
        {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
