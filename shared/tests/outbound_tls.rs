//! The outbound guard over real TLS: local https servers with certificates from a test CA that the guard
//! trusts through `SSL_CERT_FILE` (read by rustls-native-certs on the first https fetch). Its own test binary,
//! because that variable is process-wide.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use switchboard::outbound::{ALLOW_PRIVATE_TARGETS, Outbound, OutboundError, Policy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const LIMIT: usize = 1000;
const STAND_IN: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// An https server for `names` that answers `/image` with a body and `/redirect?to=<url>` with a 302.
async fn https_server(
    ip: Ipv4Addr,
    issuer: &CertifiedIssuer<'_, KeyPair>,
    names: &[&str],
) -> SocketAddr {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, issuer)
        .unwrap();
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let target = line.split(' ').nth(1).unwrap_or_default();
                let response = match target.strip_prefix("/redirect?to=") {
                    Some(to) => format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n"),
                    None => "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 7\r\n\r\nPNGDATA".into(),
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    address
}

fn only_the_stand_in() -> Outbound {
    Outbound::new(Policy {
        address_allowed: |ip| ip == IpAddr::V4(STAND_IN),
        ..Policy::default()
    })
}

#[tokio::test]
async fn https_is_verified_and_every_redirect_is_checked_again() {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let roots = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(roots.path(), ca.as_ref().pem()).unwrap();
    // SAFETY: the only test in this binary sets it before any thread reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", roots.path()) };

    let stand_in = https_server(STAND_IN, &ca, &["127.0.0.2"]).await;
    let loopback = https_server(Ipv4Addr::LOCALHOST, &ca, &["localhost", "127.0.0.1"]).await;

    // Strict https, with 127.0.0.2 standing in for a public host: the certificate is checked against the IP.
    let guard = only_the_stand_in();
    let fetched = guard
        .get(&format!("https://{stand_in}/image"), LIMIT)
        .await
        .unwrap();
    assert_eq!(&fetched.body[..], b"PNGDATA");
    assert_eq!(fetched.content_type.as_deref(), Some("image/png"));

    // A redirect to loopback meets the address rule on its own hop.
    let to_loopback = format!(
        "https://{stand_in}/redirect?to=https://localhost:{}/image",
        loopback.port()
    );
    assert_eq!(
        guard.get(&to_loopback, LIMIT).await.unwrap_err(),
        OutboundError::ForbiddenAddress
    );
    // A redirect from https down to http meets the scheme rule.
    let to_http = format!("https://{stand_in}/redirect?to=http://{stand_in}/image");
    assert_eq!(
        guard.get(&to_http, LIMIT).await.unwrap_err(),
        OutboundError::SchemeNotAllowed
    );

    // With the override the loopback redirect is followed, and the certificate is checked against the name.
    let open = Outbound::new(Policy::from_env(|name| {
        (name == ALLOW_PRIVATE_TARGETS).then(|| "1".into())
    }));
    let fetched = open.get(&to_loopback, LIMIT).await.unwrap();
    assert_eq!(&fetched.body[..], b"PNGDATA");
    assert_eq!(fetched.url.host_str(), Some("localhost"));

    // A certificate for another name fails the handshake.
    let wrong_name = https_server(STAND_IN, &ca, &["other.example"]).await;
    assert_eq!(
        guard
            .get(&format!("https://{wrong_name}/image"), LIMIT)
            .await
            .unwrap_err(),
        OutboundError::Tls
    );
}
