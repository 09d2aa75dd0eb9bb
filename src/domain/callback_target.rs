//! Where a PEP may ask to be called back when its access request's task ends (the AuthZEN
//! Access Request profile's `callback.endpoint`), as pure rules: the URL's form (https, or
//! http where the deployment allows it; a host and no user information), and which addresses
//! a name may resolve to. Loopback, link-local, private-use, shared (CGNAT), unspecified,
//! multicast, broadcast and documentation addresses, and IPv6 forms embedding them (IPv4-mapped,
//! IPv4-compatible, NAT64), are internal: a callback may reach one only when the deployment
//! allow-lists the target's `host[:port]`. The check runs twice: when the request is submitted
//! and again at delivery, on the very addresses the post then connects to (a name that resolved
//! to a public address at submission may resolve to an internal one later).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The outbox event kind of a callback post (its `X-Elevator-Event`).
pub const CALLBACK_EVENT: &str = "access_request.callback";

/// Longest callback endpoint, in bytes.
pub const MAX_CALLBACK_URL_BYTES: usize = 2048;

/// What the deployment allows of callback targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackRules {
    /// `host` or `host:port` entries (lower case) that may be internal addresses.
    pub allow: Vec<String>,
    /// Whether `http://` endpoints are taken (tests, same-host deployments); https otherwise.
    pub allow_http: bool,
}

/// A callback endpoint that passed the form checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTarget {
    /// The URL as given.
    pub url: String,
    /// The host (an IPv6 literal without brackets), lower case.
    pub host: String,
    /// The port (the scheme's default when none is given).
    pub port: u16,
    /// Whether the scheme is https.
    pub https: bool,
    /// The path and query to post to.
    pub path_and_query: String,
}

impl CallbackRules {
    /// Whether the deployment allow-listed `host:port` (or the whole host).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let with_port = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        self.allow.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let bare = entry.trim_start_matches('[').trim_end_matches(']');
            entry == with_port || bare == host
        })
    }

    /// `text` as a callback target, or why it cannot be one (never echoing the URL).
    pub fn target(&self, text: &str) -> Result<CallbackTarget, String> {
        if text.len() > MAX_CALLBACK_URL_BYTES {
            return Err(format!(
                "must be a URL of at most {MAX_CALLBACK_URL_BYTES} bytes"
            ));
        }
        let uri: http::Uri = text
            .parse()
            .map_err(|_| "must be an absolute https URL".to_owned())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.allow_http => false,
            _ => return Err("must be an https URL".into()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "must name a host".to_owned())?;
        if authority.as_str().contains('@') {
            return Err("must not carry user information (user:password@)".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err("must name a host".into());
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(CallbackTarget {
            url: text.to_owned(),
            host,
            port,
            https,
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }

    /// The addresses `target` resolved to, when a callback may be posted to them: every one
    /// public, or the target allow-listed. Refuses an empty resolution too.
    pub fn check_addresses(
        &self,
        target: &CallbackTarget,
        addresses: &[SocketAddr],
    ) -> Result<(), String> {
        if addresses.is_empty() {
            return Err("its host does not resolve".into());
        }
        if self.allows(&target.host, target.port) {
            return Ok(());
        }
        match addresses.iter().find(|address| is_internal(address.ip())) {
            Some(_) => Err(
                "its host resolves to a loopback, link-local, private or otherwise internal address, which this deployment does not allow for callbacks"
                    .into(),
            ),
            None => Ok(()),
        }
    }
}

/// Whether `address` is not a public unicast address.
pub fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(address: Ipv4Addr) -> bool {
    let [a, b, ..] = address.octets();
    address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_unspecified()
        || address.is_multicast()
        || address.is_broadcast()
        || address.is_documentation()
        || a == 0
        // Shared address space (RFC 6598) and the IETF protocol block.
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && address.octets()[2] == 0)
        // Benchmarking (RFC 2544) and reserved (240/4).
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn internal_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let segments = address.segments();
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    let embedded = Ipv4Addr::new(
        (segments[6] >> 8) as u8,
        segments[6] as u8,
        (segments[7] >> 8) as u8,
        segments[7] as u8,
    );
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !address.is_loopback() && !address.is_unspecified() {
        return internal_v4(embedded);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return internal_v4(embedded);
    }
    address.is_loopback()
        || address.is_unspecified()
        || address.is_multicast()
        // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10, deprecated).
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // Documentation (2001:db8::/32).
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(text: &str) -> bool {
        is_internal(text.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_recognised_in_every_form() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(internal(address), "{address} is internal");
        }
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!internal(address), "{address} is public");
        }
    }

    #[test]
    fn only_https_urls_with_a_host_and_no_user_information_are_targets() {
        let rules = CallbackRules::default();
        let target = rules.target("https://pep.example.com/cb?x=1").unwrap();
        assert_eq!(target.host, "pep.example.com");
        assert_eq!(target.port, 443);
        assert_eq!(target.path_and_query, "/cb?x=1");
        assert!(rules.target("http://pep.example.com/cb").is_err());
        assert!(rules.target("ftp://pep.example.com/cb").is_err());
        assert!(rules.target("https://user:pw@pep.example.com/cb").is_err());
        assert!(rules.target("/relative").is_err());
        assert!(
            rules
                .target(&format!("https://a.example/{}", "x".repeat(3000)))
                .is_err()
        );
        let lenient = CallbackRules {
            allow_http: true,
            ..Default::default()
        };
        assert_eq!(lenient.target("http://[::1]:8080/cb").unwrap().host, "::1");
    }

    #[test]
    fn internal_resolutions_are_refused_unless_the_target_is_allow_listed() {
        let rules = CallbackRules {
            allow: vec!["127.0.0.1:9000".into(), "[::1]".into()],
            allow_http: true,
        };
        let check = |url: &str, address: &str| {
            let target = rules.target(url).unwrap();
            rules.check_addresses(&target, &[address.parse().unwrap()])
        };
        assert!(check("http://127.0.0.1:9000/cb", "127.0.0.1:9000").is_ok());
        assert!(check("http://127.0.0.1:9001/cb", "127.0.0.1:9001").is_err());
        assert!(check("http://[::1]:7/cb", "[::1]:7").is_ok());
        assert!(check("https://rebound.example/cb", "10.0.0.1:443").is_err());
        assert!(check("https://pep.example/cb", "93.184.216.34:443").is_ok());
        let target = rules.target("https://pep.example/cb").unwrap();
        assert!(rules.check_addresses(&target, &[]).is_err());
    }
}
