//! The outbound URL guard: the only way Switchboard fetches a URL a user gave it (avatar sync today; webhooks
//! and web push later), so that a user cannot make Switchboard reach into its own network (SSRF).
//!
//! The rules, applied by [`Outbound::get`] to the URL and again to every redirect target (and by
//! [`Outbound::post`], a webhook delivery, which follows no redirect; [`Outbound::check`] vets a URL without
//! connecting):
//! - **https only** (an absolute URL; no other scheme).
//! - **Public addresses only**: the host is resolved once and *every* address must pass [`is_public`]
//!   (loopback, private, link-local including the metadata service 169.254.169.254, CGNAT 100.64/10,
//!   unique-local fc00::/7, IPv4-mapped, -compatible, NAT64 and 6to4 forms of those, unspecified, multicast,
//!   broadcast, documentation, benchmarking and other special-purpose ranges are refused). IP literals, in any
//!   notation the URL standard accepts (`0x7f.1` is 127.0.0.1), obey the same rule.
//! - **No second resolution**: the connection goes to a vetted address, never to a name resolved again, so a
//!   DNS answer that changes between check and use (DNS rebinding) cannot redirect it.
//! - **At most [`Policy::max_redirects`] redirects** (301, 302, 303, 307, 308 with a `Location`).
//! - **Timeouts**: [`Policy::connect_timeout`] for resolving, connecting and the TLS handshake of each hop;
//!   [`Policy::total_timeout`] for the whole fetch, redirects and body included.
//! - **Body limit**: the body is streamed and refused as soon as it exceeds the caller's limit (a declared
//!   `Content-Length` over it is refused before reading): too large is an error, never a truncation.
//! - A final status other than 2xx is an error.
//!
//! `SWITCHBOARD_ALLOW_PRIVATE_TARGETS=1` ([`Policy::from_env`]) lifts the address rule and allows http, for
//! tests and local development only; template.yaml never sets it.
//!
//! Every refusal is an [`OutboundError`] that converts to a 400 with a message that names the rule, not the
//! address (a resolved private address would tell a caller about our network); refused addresses are logged.
//! TLS uses rustls with the system's root certificates, loaded on the first https fetch. HTTP/1.1 only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper::{HeaderMap, Method, Request, Response};
use hyper_util::rt::TokioIo;
use ipnet::{Ipv4Net, Ipv6Net};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};
use url::{Host, Position, Url};

/// The setting that lifts the address rule and allows http: tests and local development only.
pub const ALLOW_PRIVATE_TARGETS: &str = "SWITCHBOARD_ALLOW_PRIVATE_TARGETS";

/// What an outbound fetch may do. [`Policy::default`] is the production rule.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Whether `http` URLs are fetched too (only with the override).
    pub allow_http: bool,
    /// Which resolved addresses may be connected to: [`is_public`] unless overridden. Tests may admit one
    /// loopback address to stand in for a public host.
    pub address_allowed: fn(IpAddr) -> bool,
    pub max_redirects: usize,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            allow_http: false,
            address_allowed: is_public,
            max_redirects: 3,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
        }
    }
}

impl Policy {
    /// The production rule, unless `SWITCHBOARD_ALLOW_PRIVATE_TARGETS` is `1`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let mut policy = Self::default();
        if env(ALLOW_PRIVATE_TARGETS).as_deref() == Some("1") {
            policy.allow_http = true;
            policy.address_allowed = |_| true;
        }
        policy
    }
}

/// Why a fetch was refused or failed. All but [`OutboundError::Setup`] are the URL's fault: a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("The URL is not a valid absolute URL")]
    InvalidUrl,
    #[error("Only https URLs are accepted")]
    SchemeNotAllowed,
    #[error("The URL's host is not a public internet address")]
    ForbiddenAddress,
    #[error("The URL's host could not be resolved")]
    Unresolvable,
    #[error("The URL's host could not be reached")]
    Unreachable,
    #[error("The URL's host failed the TLS handshake")]
    Tls,
    #[error("The URL did not answer in time")]
    Timeout,
    #[error("The URL redirected more than {0} times")]
    TooManyRedirects(usize),
    #[error("The URL redirected to an invalid location")]
    BadRedirect,
    #[error("The URL answered with HTTP status {0}")]
    Status(u16),
    #[error("The URL's content is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("The URL's host did not answer with valid HTTP")]
    Protocol,
    /// Our side: no TLS configuration could be built. A 500.
    #[error("outbound TLS setup: {0}")]
    Setup(String),
}

impl From<OutboundError> for crate::Error {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::Setup(cause) => Self::Internal(cause),
            refusal => Self::bad_request(refusal.to_string()),
        }
    }
}

/// A fetched body, with the URL it finally came from (after redirects) and its declared content type.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: Url,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// The guarded client. Build one per cold start: the TLS configuration is made once, on first use.
#[derive(Debug)]
pub struct Outbound {
    policy: Policy,
    tls: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl Outbound {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            tls: OnceLock::new(),
        }
    }

    /// GETs `url` under the policy, following redirects, and answers its body of at most `limit` bytes.
    /// Every call here is bounded by the policy's timeout and by the invocation's deadline
    /// ([`crate::deadline`]), whichever comes first.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Fetched, OutboundError> {
        let url = Url::parse(url).map_err(|_| OutboundError::InvalidUrl)?;
        let budget = crate::deadline::budget(self.policy.total_timeout);
        tokio::time::timeout(budget, self.follow(url, limit))
            .await
            .map_err(|_| OutboundError::Timeout)?
    }

    /// Checks `url` as a fetch would, without connecting: the scheme, and every address its host resolves
    /// to (a webhook's URL when it is registered; every delivery checks again).
    pub async fn check(&self, url: &str) -> Result<(), OutboundError> {
        let url = Url::parse(url).map_err(|_| OutboundError::InvalidUrl)?;
        self.scheme(&url)?;
        let (host, port) = host_and_port(&url)?;
        tokio::time::timeout(self.policy.connect_timeout, resolve(&host, port))
            .await
            .map_err(|_| OutboundError::Timeout)
            .and_then(|addresses| vet(&host, addresses?, &self.policy))
            .map(drop)
    }

    /// POSTs `body` with `headers` to `url` under the policy (no redirects: the services posted to, push
    /// services, do not redirect) and answers the status, whatever it is, with a body of at most `limit`
    /// bytes, all within the policy's total timeout.
    pub async fn post_for_answer(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
        limit: usize,
    ) -> Result<(u16, Bytes), OutboundError> {
        let url = Url::parse(url).map_err(|_| OutboundError::InvalidUrl)?;
        // Push services' headers (VAPID authorization, encoding, TTL) are ASCII.
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let exchange = async {
            let response = self.request(Method::POST, &url, &headers, body).await?;
            let status = response.status().as_u16();
            Ok((status, read_body(url.clone(), response, limit).await?.body))
        };
        tokio::time::timeout(crate::deadline::budget(self.policy.total_timeout), exchange)
            .await
            .map_err(|_| OutboundError::Timeout)?
    }

    /// POSTs `body` with `headers` to `url` under the policy, within `timeout`, and answers the status. A
    /// redirect is not followed (its status is the answer) and the response body is not read.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<u16, OutboundError> {
        let url = Url::parse(url).map_err(|_| OutboundError::InvalidUrl)?;
        let sent = self.request(Method::POST, &url, headers, body);
        let response = tokio::time::timeout(crate::deadline::budget(timeout), sent)
            .await
            .map_err(|_| OutboundError::Timeout)??;
        Ok(response.status().as_u16())
    }

    async fn follow(&self, mut url: Url, limit: usize) -> Result<Fetched, OutboundError> {
        let mut redirects = 0;
        loop {
            let response = self.request(Method::GET, &url, &[], Bytes::new()).await?;
            let status = response.status();
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                if redirects == self.policy.max_redirects {
                    return Err(OutboundError::TooManyRedirects(self.policy.max_redirects));
                }
                redirects += 1;
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|value| value.to_str().ok())
                    .ok_or(OutboundError::BadRedirect)?;
                url = url.join(location).map_err(|_| OutboundError::BadRedirect)?;
                continue;
            }
            if !status.is_success() {
                return Err(OutboundError::Status(status.as_u16()));
            }
            return read_body(url, response, limit).await;
        }
    }

    /// Whether the URL's scheme is allowed: https, or http with the override. `true` for https.
    fn scheme(&self, url: &Url) -> Result<bool, OutboundError> {
        match url.scheme() {
            "https" => Ok(true),
            "http" if self.policy.allow_http => Ok(false),
            _ => Err(OutboundError::SchemeNotAllowed),
        }
    }

    /// One hop: check the scheme, resolve and vet the host, connect to a vetted address, send the request.
    async fn request(
        &self,
        method: Method,
        url: &Url,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response<Incoming>, OutboundError> {
        let https = self.scheme(url)?;
        let (host, port) = host_and_port(url)?;
        let host_header = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(&url[Position::BeforePath..Position::AfterQuery])
            .header(HOST, host_header)
            .header(USER_AGENT, "Switchboard");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|_| OutboundError::InvalidUrl)?;
        let connect = async {
            let addresses = vet(&host, resolve(&host, port).await?, &self.policy)?;
            let stream = connect(&addresses).await?;
            if !https {
                return Ok(Stream::Plain(stream));
            }
            let name = match &host {
                Host::Domain(name) => {
                    ServerName::try_from(name.to_string()).map_err(|_| OutboundError::InvalidUrl)?
                }
                Host::Ipv4(ip) => ServerName::IpAddress(IpAddr::V4(*ip).into()),
                Host::Ipv6(ip) => ServerName::IpAddress(IpAddr::V6(*ip).into()),
            };
            let tls = self.tls()?.connect(name, stream).await;
            Ok(Stream::Tls(Box::new(tls.map_err(|_| OutboundError::Tls)?)))
        };
        match tokio::time::timeout(self.policy.connect_timeout, connect)
            .await
            .map_err(|_| OutboundError::Timeout)??
        {
            Stream::Plain(stream) => exchange(stream, request).await,
            Stream::Tls(stream) => exchange(*stream, request).await,
        }
    }

    fn tls(&self) -> Result<TlsConnector, OutboundError> {
        match self.tls.get_or_init(tls_config) {
            Ok(config) => Ok(TlsConnector::from(Arc::clone(config))),
            Err(cause) => Err(OutboundError::Setup(cause.clone())),
        }
    }
}

fn host_and_port(url: &Url) -> Result<(Host<&str>, u16), OutboundError> {
    let host = url.host().ok_or(OutboundError::InvalidUrl)?;
    let port = url
        .port_or_known_default()
        .ok_or(OutboundError::InvalidUrl)?;
    Ok((host, port))
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

fn tls_config() -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if roots.is_empty() {
        return Err("no trusted root certificates on this system".into());
    }
    // The provider is named so that no process-wide default has to be installed.
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn resolve(host: &Host<&str>, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
    match host {
        Host::Ipv4(ip) => Ok(vec![SocketAddr::new(IpAddr::V4(*ip), port)]),
        Host::Ipv6(ip) => Ok(vec![SocketAddr::new(IpAddr::V6(*ip), port)]),
        Host::Domain(name) => Ok(tokio::net::lookup_host((*name, port))
            .await
            .map_err(|_| OutboundError::Unresolvable)?
            .collect()),
    }
}

/// Every resolved address must be allowed: one private answer among public ones refuses the host.
fn vet(
    host: &Host<&str>,
    addresses: Vec<SocketAddr>,
    policy: &Policy,
) -> Result<Vec<SocketAddr>, OutboundError> {
    if addresses.is_empty() {
        return Err(OutboundError::Unresolvable);
    }
    if let Some(refused) = addresses.iter().find(|a| !(policy.address_allowed)(a.ip())) {
        tracing::warn!(%host, address = %refused.ip(), "outbound fetch refused: not a public address");
        return Err(OutboundError::ForbiddenAddress);
    }
    Ok(addresses)
}

async fn connect(addresses: &[SocketAddr]) -> Result<TcpStream, OutboundError> {
    for address in addresses {
        if let Ok(stream) = TcpStream::connect(address).await {
            return Ok(stream);
        }
    }
    Err(OutboundError::Unreachable)
}

async fn exchange<S>(
    io: S,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, OutboundError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|_| OutboundError::Protocol)?;
    // The connection is driven until the response and its body are dropped; its errors surface there.
    tokio::spawn(connection);
    sender
        .send_request(request)
        .await
        .map_err(|_| OutboundError::Protocol)
}

async fn read_body(
    url: Url,
    response: Response<Incoming>,
    limit: usize,
) -> Result<Fetched, OutboundError> {
    let too_large = OutboundError::TooLarge { limit };
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large);
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(response.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                too_large
            } else {
                OutboundError::Protocol
            }
        })?
        .to_bytes();
    Ok(Fetched {
        url,
        content_type,
        body,
    })
}

/// IPv4 ranges that are not the public internet (IANA special-purpose registry).
const NOT_PUBLIC_V4: [Ipv4Net; 15] = [
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8), // "this network", unspecified
    Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8), // private
    Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10), // CGNAT shared space
    Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8), // loopback
    Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16), // link-local, cloud metadata
    Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12), // private
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 2, 0), 24), // documentation
    Ipv4Net::new_assert(Ipv4Addr::new(192, 88, 99, 0), 24), // 6to4 relay anycast
    Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16), // private
    Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking
    Ipv4Net::new_assert(Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    Ipv4Net::new_assert(Ipv4Addr::new(203, 0, 113, 0), 24), // documentation
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4), // multicast
    Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4), // reserved, broadcast
];

/// Global unicast IPv6 is 2000::/3; inside it these are not the public internet.
const GLOBAL_V6: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
const NOT_PUBLIC_V6: [Ipv6Net; 3] = [
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF assignments, Teredo
    Ipv6Net::new_assert(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    Ipv6Net::new_assert(Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
];
/// IPv6 forms that carry an IPv4 address, judged by that address.
const NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
const SIX_TO_FOUR: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// Whether `ip` is a public internet address that an outbound fetch may connect to.
///
/// IPv6 must be global unicast (2000::/3, outside its special-purpose blocks), which leaves out ::, ::1,
/// IPv4-compatible ::/96 (deprecated), fc00::/7, fe80::/10, fec0::/10 and ff00::/8; the forms that embed an
/// IPv4 address (mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !NOT_PUBLIC_V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                is_public(IpAddr::V4(v4))
            } else if NAT64.contains(&v6) {
                is_public(IpAddr::V4(Ipv4Addr::from_bits(v6.to_bits() as u32)))
            } else if SIX_TO_FOUR.contains(&v6) {
                let embedded = (u32::from(segments[1]) << 16) | u32::from(segments[2]);
                is_public(IpAddr::V4(Ipv4Addr::from_bits(embedded)))
            } else {
                GLOBAL_V6.contains(&v6) && !NOT_PUBLIC_V6.iter().any(|net| net.contains(&v6))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_address_class() {
        let refused = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("10.0.0.1", "private 10/8"),
            ("10.255.255.255", "private 10/8"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("169.254.169.254", "link-local metadata service"),
            ("169.254.0.1", "link-local"),
            ("172.16.0.1", "private 172.16/12"),
            ("172.31.255.255", "private 172.16/12"),
            ("192.0.0.170", "IETF protocol assignments"),
            ("192.0.2.1", "documentation"),
            ("192.88.99.1", "6to4 relay"),
            ("192.168.1.1", "private 192.168/16"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
            ("::ffff:10.1.2.3", "IPv4-mapped private"),
            ("::ffff:169.254.169.254", "IPv4-mapped metadata"),
            ("::127.0.0.1", "IPv4-compatible loopback"),
            ("::8.8.8.8", "IPv4-compatible (deprecated)"),
            ("64:ff9b::7f00:1", "NAT64 of loopback"),
            ("64:ff9b::a9fe:a9fe", "NAT64 of metadata"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("2002:7f00:1::", "6to4 of loopback"),
            ("2002:c0a8:101::1", "6to4 of private"),
            ("fc00::1", "unique-local"),
            ("fd12:3456:789a::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("100::1", "discard-only"),
            ("2001::1", "Teredo"),
            ("2001:10::1", "ORCHID"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("5f00::1", "SRv6 SIDs"),
        ];
        for (text, class) in refused {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_public(ip), "{text} ({class}) must be refused");
        }
        let allowed = [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.0.1.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
        ];
        for text in allowed {
            let ip: IpAddr = text.parse().unwrap();
            assert!(is_public(ip), "{text} must be allowed");
        }
    }

    #[test]
    fn one_private_answer_refuses_the_host() {
        let policy = Policy::default();
        let host = Host::Domain("mixed.example");
        let public: SocketAddr = "8.8.8.8:443".parse().unwrap();
        let private: SocketAddr = "10.0.0.1:443".parse().unwrap();
        assert_eq!(vet(&host, vec![public], &policy), Ok(vec![public]));
        assert_eq!(
            vet(&host, vec![public, private], &policy),
            Err(OutboundError::ForbiddenAddress)
        );
        assert_eq!(
            vet(&host, vec![], &policy),
            Err(OutboundError::Unresolvable)
        );
    }

    #[test]
    fn the_override_lifts_the_address_rule_and_allows_http() {
        let strict = Policy::from_env(|_| None);
        assert!(!strict.allow_http);
        assert!(!(strict.address_allowed)("127.0.0.1".parse().unwrap()));
        let other = Policy::from_env(|_| Some("true".into()));
        assert!(!other.allow_http, "only the value 1 turns the rule off");
        let open = Policy::from_env(|name| (name == ALLOW_PRIVATE_TARGETS).then(|| "1".into()));
        assert!(open.allow_http);
        assert!((open.address_allowed)("127.0.0.1".parse().unwrap()));
    }
}
