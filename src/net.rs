//! Which hosts count as this machine: where plain HTTP may carry a
//! credential (a local registry, an engine on a loopback port).

use std::net::IpAddr;

use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An HTTP(S) client with the system's trust roots, for wharf's few requests
/// outside the AWS SDK (a registry's manifest, this machine's public address).
pub fn https_client()
-> Result<Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<bytes::Bytes>>, String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("no TLS roots: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// `address` as a CIDR of that one address (`/32`, `/128`); `None` when it is
/// not an address at all.
pub fn single_address(address: &str) -> Option<String> {
    let (ip, bits) = match address.trim().split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (address.trim(), None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let full = if ip.is_ipv4() { "32" } else { "128" };
    match bits {
        None => Some(format!("{ip}/{full}")),
        Some(b) if b == full => Some(format!("{ip}/{full}")),
        Some(_) => None,
    }
}

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
    fn one_address_only() {
        use super::single_address;
        assert_eq!(single_address("203.0.113.7").as_deref(), Some("203.0.113.7/32"));
        assert_eq!(single_address(" 203.0.113.7/32\n").as_deref(), Some("203.0.113.7/32"));
        assert_eq!(single_address("2001:db8::1").as_deref(), Some("2001:db8::1/128"));
        assert_eq!(single_address("0.0.0.0/0"), None, "the whole internet is not one address");
        assert_eq!(single_address("example.com"), None);
    }

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
