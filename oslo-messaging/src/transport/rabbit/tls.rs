//! TLS to the broker (`ssl` and the `ssl_*` options), through rustls on the ring provider.
//!
//! lapin's own TLS support would bring a second crypto provider (aws-lc-rs) or a PKCS#12 parser, so the
//! connection is opened here instead: TCP through tokio, the TLS handshake through `futures-rustls`, and
//! the finished stream handed to lapin's [`Connection::connector`] through a runtime kit ([`Kit`]) whose
//! TCP stream type is "plain or TLS". A handshake therefore fails here, with rustls's own reason.
//!
//! What is verified follows what the Python driver asks of Python's `ssl` module:
//! - the certificate chain always, against `ssl_ca_file` when set, else against the system's store
//!   (`SSL_CERT_FILE` or the distribution's bundle, and `SSL_CERT_DIR`, as OpenSSL's defaults);
//! - the host name (and SNI) only when `ssl_ca_file` is set: the original passes the URL's host as
//!   `server_hostname` when it names one host, and `None` otherwise, which kombu replaces with the host
//!   it connects to; so each connection checks the name of the host it reached;
//! - a client certificate when `ssl_cert_file` is set, its key from `ssl_key_file` or else from the
//!   certificate file (`load_cert_chain(certfile, keyfile)`).

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_rs::Tokio;
use async_rs::traits::{Executor, Reactor, RuntimeKit};
use async_rs::util::Task;
use futures::Stream as FuturesStream;
use futures::io::{AsyncRead, AsyncWrite};
use lapin::uri::AMQPUri;
use lapin::{AsyncTcpStream, Connection, ConnectionProperties};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::RabbitOptions;
use crate::{Error, Result};

/// The TLS protocol versions `ssl_version` allows.
fn protocol_versions(
    version: &str,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion]> {
    static ANY: &[&rustls::SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    match version.to_ascii_lowercase().as_str() {
        // Python's PROTOCOL_SSLv23 (= PROTOCOL_TLS): the best both sides have.
        "" | "sslv23" => Ok(ANY),
        "tlsv1_2" => Ok(TLS12),
        "tlsv1" | "tlsv1_1" => Err(Error::Configuration(format!(
            "`ssl_version` `{version}` is not supported: TLS 1.0 and 1.1 are not available (use `TLSv1_2` or `SSLv23`)"
        ))),
        _ => Err(Error::Configuration(format!(
            "invalid SSL version `{version}`"
        ))),
    }
}

fn read_error(what: &str, path: &str, e: impl std::fmt::Display) -> Error {
    Error::Configuration(format!("cannot read the {what} `{path}`: {e}"))
}

/// The largest PEM file read (a long chain of certificates stays far below it).
const MAX_PEM_FILE: u64 = 1 << 20;

/// The bytes of a PEM file: a regular file of bounded size. The PEM parser's own errors are never shown
/// for these files: they quote the offending line, which in a key file is the key.
fn pem_file(what: &str, path: &str) -> Result<Vec<u8>> {
    bounded_file(what, path, MAX_PEM_FILE)
}

/// The bytes of a regular file of at most `max` bytes.
fn bounded_file(what: &str, path: &str, max: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| read_error(what, path, e))?;
    if !meta.is_file() {
        return Err(read_error(what, path, "not a regular file"));
    }
    if meta.len() > max {
        return Err(read_error(
            what,
            path,
            format_args!("larger than {max} bytes"),
        ));
    }
    std::fs::read(path).map_err(|e| read_error(what, path, e))
}

/// Whether PEM text holds an encrypted private key (PKCS#8 or OpenSSL's traditional `Proc-Type`).
fn holds_encrypted_key(pem: &[u8]) -> bool {
    let has = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    has(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || has(b"Proc-Type: 4,ENCRYPTED")
}

fn certificates(what: &str, path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = pem_file(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| read_error(what, path, "not a well-formed PEM file"))?;
    if certs.is_empty() {
        return Err(read_error(what, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The client's private key, from `ssl_key_file` or else from the certificate file.
fn private_key(path: &str, from_cert_file: bool) -> Result<PrivateKeyDer<'static>> {
    let what = if from_cert_file {
        "client certificate file"
    } else {
        "client key file"
    };
    let pem = pem_file(what, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        let why = if holds_encrypted_key(&pem) {
            "encrypted keys are not supported"
        } else if from_cert_file && matches!(e, rustls::pki_types::pem::Error::NoItemsFound) {
            "no private key in it; set ssl_key_file"
        } else {
            "not an unencrypted PEM private key (PKCS#1, PKCS#8 or SEC1)"
        };
        read_error(what, path, why)
    })
}

/// The trust anchors: the CA file's certificates, or the system's store.
fn roots(ca_file: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if !ca_file.is_empty() {
        for cert in certificates("CA file", ca_file)? {
            roots
                .add(cert)
                .map_err(|e| read_error("CA file", ca_file, e))?;
        }
        return Ok(roots);
    }
    let (added, _ignored) = roots.add_parsable_certificates(system_certificates()?);
    if added == 0 {
        return Err(Error::Configuration(
            "`ssl` is on without `ssl_ca_file` and the system's certificate store is empty".into(),
        ));
    }
    Ok(roots)
}

/// Where distributions keep OpenSSL's default bundle (Debian's first).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

/// The largest file of a system store read (distribution bundles are a few hundred kB).
const MAX_STORE_FILE: u64 = 16 << 20;

/// OpenSSL's default trust store, which Python's `load_default_certs` loads: the file `SSL_CERT_FILE`
/// (else the distribution's bundle) and the files of the directories in `SSL_CERT_DIR`. Every file is
/// read as a bounded regular file; a `SSL_CERT_FILE` that cannot be read is an error naming it (OpenSSL
/// would quietly trust nothing), the other files are skipped.
fn system_certificates() -> Result<Vec<CertificateDer<'static>>> {
    let parse = |pem: &[u8]| -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem)
            .filter_map(std::result::Result::ok)
            .collect()
    };
    let store_file = |path: &Path| -> Vec<CertificateDer<'static>> {
        let shown = path.to_string_lossy();
        match bounded_file("certificate store file", &shown, MAX_STORE_FILE) {
            Ok(pem) => parse(&pem),
            Err(e) => {
                tracing::debug!(target: "rabbit", error = %e, "no certificates read");
                Vec::new()
            }
        }
    };
    let mut certs = match std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        Some(file) => parse(&bounded_file(
            "`SSL_CERT_FILE`",
            &file.to_string_lossy(),
            MAX_STORE_FILE,
        )?),
        None => SYSTEM_BUNDLES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .map(store_file)
            .unwrap_or_default(),
    };
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for dir in std::env::split_paths(&dirs) {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    certs.extend(store_file(&entry.path()));
                }
            }
        }
    }
    Ok(certs)
}

/// Checks the chain with webpki and, unless told to check the host name, accepts a certificate whose
/// only fault is a name that does not match (Python's `check_hostname = False` with `CERT_REQUIRED`).
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_hostname: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // webpki checks the name after the chain: a name error means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What every TLS connection of one transport uses.
pub(crate) struct TlsSetup {
    connector: futures_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup").finish_non_exhaustive()
    }
}

impl TlsSetup {
    /// The TLS settings of the options, or `None` when the transport does not use TLS.
    pub(crate) fn from_options(o: &RabbitOptions) -> Result<Option<Arc<TlsSetup>>> {
        if !o.ssl && !o.amqps {
            return Ok(None);
        }
        // A `kombu+amqps` URL with `ssl` off gets kombu's defaults: no `ssl_*` option applies.
        let empty = RabbitOptions::default();
        let o = if o.ssl { o } else { &empty };
        let versions = protocol_versions(&o.ssl_version)?;
        let check_hostname = !o.ssl_ca_file.is_empty();
        if !check_hostname {
            tracing::warn!(
                target: "rabbit",
                "TLS without `ssl_ca_file`: the broker's certificate chain is checked against the system's store, but not its host name (as in Python); set `ssl_ca_file` to check it"
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots(&o.ssl_ca_file)?),
            provider.clone(),
        )
        .build()
        .map_err(|e| Error::Configuration(format!("bad TLS trust anchors: {e}")))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| Error::Configuration(format!("bad TLS settings: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                webpki,
                check_hostname,
            }));
        let mut config = if o.ssl_cert_file.is_empty() {
            builder.with_no_client_auth()
        } else {
            let chain = certificates("client certificate file", &o.ssl_cert_file)?;
            let key = if o.ssl_key_file.is_empty() {
                private_key(&o.ssl_cert_file, true)?
            } else {
                private_key(&o.ssl_key_file, false)?
            };
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Configuration(format!("bad client certificate or key: {e}")))?
        };
        config.enable_sni = check_hostname;
        Ok(Some(Arc::new(TlsSetup {
            connector: futures_rustls::TlsConnector::from(Arc::new(config)),
        })))
    }

    /// Opens a TCP connection to the URI's host, shakes hands, and runs the AMQP connection over it.
    pub(crate) async fn connect(
        &self,
        uri: AMQPUri,
        props: ConnectionProperties,
    ) -> Result<Connection> {
        let (host, port) = (uri.authority.host.clone(), uri.authority.port);
        let shown = super::host_port(&host, port);
        let kit = Kit(Tokio::current());
        let unreachable = |e: io::Error| Error::Connection {
            reason: format!("cannot connect to `{shown}`: {e}"),
        };
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(unreachable)?
            .collect();
        let tcp = kit.0.tcp_connect(addrs).await.map_err(unreachable)?;
        let name = server_name(&host)?;
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| handshake_error(&shown, e))?;
        let slot = Arc::new(Mutex::new(Some(Stream(Box::new(tls)))));
        let runtime = async_rs::Runtime::new(kit);
        Connection::connector(
            uri,
            runtime,
            async move |_uri, _runtime| {
                let stream = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                stream.map(AsyncTcpStream::Plain).ok_or_else(|| {
                    lapin::Error::from(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "the TLS connection was already used (no automatic recovery)",
                    ))
                })
            },
            props,
        )
        .await
        .map_err(|e| match e.kind() {
            // In TLS 1.3 the broker judges our certificate after the handshake: its alert arrives here.
            lapin::ErrorKind::IOError(io) if tls_error(io).is_some_and(is_verdict) => {
                Error::Configuration(format!("TLS connection to `{shown}` refused: {e}"))
            }
            _ => Error::Connection {
                reason: format!("cannot connect to `{shown}`: {e}"),
            },
        })
    }
}

/// The name a host is checked against (and sent as SNI): a DNS name or an IP address. The driver checks
/// every host's when the transport is built.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
        .map(|n| n.to_owned())
        .map_err(|e| Error::Configuration(format!("bad TLS server name `{host}`: {e}")))
}

/// Whether a TLS failure is a verdict that no retry cures: a certificate we or the broker reject, or no
/// protocol version (or parameters) both sides accept. Garbage on the wire (a corrupt record, a bad MAC, a
/// peer breaking the protocol, a listener that does not speak TLS) is not: Python retries its `SSLError`
/// and moves on to the next host, and so does the driver.
fn is_verdict(e: &rustls::Error) -> bool {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::InvalidCertRevocationList(_)
        | rustls::Error::PeerIncompatible(_)
        | rustls::Error::InconsistentKeys(_) => true,
        rustls::Error::AlertReceived(alert) => matches!(
            alert,
            A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::CertificateUnobtainable
                | A::CertificateRequired
                | A::NoCertificate
                | A::BadCertificateStatusResponse
                | A::BadCertificateHashValue
                | A::UnknownCA
                | A::AccessDenied
                | A::HandshakeFailure
                | A::ProtocolVersion
                | A::InsufficientSecurity
        ),
        _ => false,
    }
}

/// A TLS failure: a verdict is a configuration error (which the driver reports once every host has given
/// one); anything else is a connection error, retried like a lost socket.
fn tls_failure(context: &str, e: &rustls::Error) -> Error {
    if is_verdict(e) {
        Error::Configuration(format!("{context}: {e}"))
    } else {
        Error::Connection {
            reason: format!("{context}: {e}"),
        }
    }
}

/// A failed handshake, with rustls's reason when it has one.
fn handshake_error(host: &str, e: io::Error) -> Error {
    let context = format!("TLS handshake with `{host}` failed");
    match tls_error(&e) {
        Some(tls) => tls_failure(&context, tls),
        None => Error::Connection {
            reason: format!("{context}: {e}"),
        },
    }
}

fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

type Plain = <Tokio as Reactor>::TcpStream;

/// The stream lapin runs the AMQP connection over: always TLS (the kit opens no plain stream).
pub(crate) struct Stream(Box<futures_rustls::client::TlsStream<Plain>>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream::Tls")
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().0.as_mut()).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().0.as_mut()).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().0.as_mut()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.get_mut().0.as_mut()).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().0.as_mut()).poll_flush(cx)
    }

    /// Closing queues close_notify, tries once to send what is queued, and shuts the TCP stream down
    /// whatever came of it: rustls's own close waits until everything is sent, for ever if the broker
    /// stopped reading.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (tcp, conn) = self.get_mut().0.get_mut();
        conn.send_close_notify();
        let mut out = TryWrite { io: &mut *tcp, cx };
        while conn.wants_write() {
            match conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        Pin::new(tcp).poll_close(cx)
    }
}

/// A non-blocking `Write` over an async stream: a write that would wait is `WouldBlock`.
struct TryWrite<'a, 'b> {
    io: &'a mut Plain,
    cx: &'a mut Context<'b>,
}

impl Write for TryWrite<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// async-rs's tokio kit, with a TCP stream that may be TLS: lapin's connection and I/O loop run on it
/// exactly as on the default kit.
#[derive(Debug, Clone)]
pub(crate) struct Kit(Tokio);

impl RuntimeKit for Kit {}

impl Executor for Kit {
    type Task<T: Send + 'static> = <Tokio as Executor>::Task<T>;

    fn block_on<T, F: Future<Output = T>>(&self, f: F) -> T {
        self.0.block_on(f)
    }

    fn spawn<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
        &self,
        f: F,
    ) -> Task<Self::Task<T>> {
        self.0.spawn(f)
    }

    fn spawn_blocking<T: Send + 'static, F: FnOnce() -> T + Send + 'static>(
        &self,
        f: F,
    ) -> Task<Self::Task<T>> {
        self.0.spawn_blocking(f)
    }
}

impl Reactor for Kit {
    type TcpStream = Stream;
    type Sleep = <Tokio as Reactor>::Sleep;

    fn register<H: Read + Write + AsFd + AsRawFd + Send + 'static>(
        &self,
        socket: H,
    ) -> io::Result<impl AsyncRead + AsyncWrite + Send + Unpin + 'static> {
        self.0.register(socket)
    }

    fn sleep(&self, dur: Duration) -> Self::Sleep {
        self.0.sleep(dur)
    }

    fn interval(&self, dur: Duration) -> impl FuturesStream<Item = Instant> + Send + 'static {
        self.0.interval(dur)
    }

    fn tcp_connect_addr(
        &self,
        addr: std::net::SocketAddr,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + 'static {
        // Every connection of this kit is opened above (`TlsSetup::connect`) and handed to lapin ready
        // made: a plain TCP stream from here would be a connection without TLS, so this fails closed.
        std::future::ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("no plain TCP connection to `{addr}` on a TLS transport"),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_kit_opens_no_plain_tcp_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let err = Kit(Tokio::current())
            .tcp_connect_addr(addr)
            .await
            .expect_err("fails closed");
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    }

    /// The test broker's server certificate and key, and its CA (`OSLO_TEST_RABBIT_TLS_CA`).
    fn server_files() -> Option<(String, String, String)> {
        let Some(ca) = std::env::var("OSLO_TEST_RABBIT_TLS_CA")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            assert!(
                std::env::var("OSLO_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "OSLO_TEST_RABBIT_TLS_CA is not set but OSLO_TEST_REQUIRE_SERVERS=1"
            );
            eprintln!("skipped: OSLO_TEST_RABBIT_TLS_CA is not set");
            return None;
        };
        let dir = Path::new(&ca).parent().expect("the CA's directory");
        let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
        Some((file("server.pem"), file("server.key"), ca))
    }

    /// A peer that completes the handshake and then reads nothing does not hold up the close.
    #[tokio::test]
    async fn close_does_not_wait_for_a_peer_that_stopped_reading() {
        let Some((cert, key, ca)) = server_files() else {
            return;
        };
        let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            certificates("server certificate", &cert).expect("server certificate"),
            private_key(&key, false).expect("server key"),
        )
        .expect("server config");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().expect("accept");
            let mut conn = rustls::ServerConnection::new(Arc::new(server_config)).expect("server");
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).expect("server handshake");
            }
            while conn.wants_write() {
                conn.write_tls(&mut tcp).expect("server write");
            }
            // Reads nothing more until the test is over.
            let _ = done_rx.recv_timeout(Duration::from_secs(60));
        });

        let mut roots = RootCertStore::empty();
        for c in certificates("CA file", &ca).expect("CA") {
            roots.add(c).expect("CA certificate");
        }
        let client_config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        let tcp = Tokio::current()
            .tcp_connect_addr(addr)
            .await
            .expect("connect");
        let tls = futures_rustls::TlsConnector::from(Arc::new(client_config))
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("handshake");
        let mut stream = Stream(Box::new(tls));

        // Fill the socket's buffers: a write that does not finish soon means the peer's window is full.
        let chunk = vec![0_u8; 64 * 1024];
        let mut filled = false;
        for _ in 0..4096 {
            if tokio::time::timeout(Duration::from_millis(200), stream.write_all(&chunk))
                .await
                .is_err()
            {
                filled = true;
                break;
            }
        }
        assert!(filled, "the peer kept reading");
        let closed = tokio::time::timeout(Duration::from_secs(5), stream.close()).await;
        let _ = done_tx.send(());
        server.join().expect("server thread");
        assert!(closed.is_ok(), "close waited for the peer");
    }
}
