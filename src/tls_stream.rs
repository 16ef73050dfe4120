//! TLS over an `Async<TcpStream>` with rustls' unbuffered API and buffers this module owns:
//! the client side to PBS ([`TlsStream::connect`]) and the server side of the exporter's own
//! endpoint ([`TlsStream::accept`], for `--web-config-file`). One record loop serves both.
//!
//! It exists for the allocation budget (at most 64 heap blocks per steady-state scrape, see
//! memprof/): the buffered rustls connection behind futures-rustls shrinks and regrows its
//! receive buffer on nearly every read. Here the received ciphertext goes into one fixed buffer
//! that rustls decrypts in place, handshake and application records are encoded into one
//! outgoing buffer that only grows when rustls asks for more room and then stays, and the part
//! of a record the caller had no room for waits in one fixed plaintext buffer. All three are
//! allocated once per connection.
//!
//! rustls 0.23 still allocates inside itself, and this module cannot avoid it: every received
//! application-data record is copied into a `Vec` before `ReadTraffic` hands it out, and every
//! record encrypted by `WriteTraffic::encrypt` is built in a `Vec` before it is copied into the
//! outgoing buffer. One block per record read and one per request written remain.

use crate::http::conn::Transport;
use async_io::Async;
use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::pki_types::ServerName;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::{ClientConfig, Error, ServerConfig};
use std::io;
use std::net::TcpStream;
use std::sync::Arc;

/// Largest TLS record on the wire: a 5-byte header and at most 16 KiB of plaintext plus the
/// 2 KiB of expansion TLS allows (rustls accepts no more).
const RECORD_MAX: usize = 5 + 16 * 1024 + 2048;
/// Ciphertext buffer: one whole record. A record that arrives in part is moved to the front
/// before the next socket read ([`TlsStream::fill`]), so one record always fits. Two records
/// (one read taking a record and the start of the next) cost 18 KiB more per connection, held by
/// every target scraped at once, for no measurable CPU (footprint, DESIGN.md).
const INCOMING: usize = RECORD_MAX;
/// What the ciphertext buffer grows to, once, when a handshake message spans more records
/// than [`INCOMING`] holds (rustls allows handshake messages up to 64 KiB, e.g. a long
/// certificate chain). Application data never needs it.
const INCOMING_MAX: usize = 64 * 1024 + INCOMING;
/// Largest plaintext of one record.
const PLAINTEXT_MAX: usize = 16 * 1024;

/// The side of an unbuffered rustls connection: client or server. Only the record processing
/// differs in type; the states it yields are the same.
pub trait Side {
    /// rustls' per-side connection data.
    type Data;
    /// rustls' `process_tls_records` of this side.
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
}

impl Side for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

impl Side for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
}

/// A TLS connection over a TCP socket, client side by default. Reads hand out decrypted
/// application data, writes encrypt and send it; after the handshake neither allocates in this
/// module.
///
/// Dropping it closes the socket without a TLS `close_notify`. A cancelled `write_all` may
/// leave a record half sent: drop the stream then.
pub struct TlsStream<C = UnbufferedClientConnection> {
    tcp: Async<TcpStream>,
    conn: C,
    /// Received ciphertext; `incoming[start..end]` is not processed by rustls yet.
    incoming: Vec<u8>,
    start: usize,
    end: usize,
    /// Handshake records encoded but not yet sent are `outgoing[..encoded]`; also where
    /// application data is encrypted.
    outgoing: Vec<u8>,
    encoded: usize,
    /// Decrypted bytes not yet handed out.
    plaintext: Plaintext,
    /// The server sent `close_notify`: reads return 0.
    peer_closed: bool,
    /// Application-data records decrypted, and records encrypted: rustls 0.23 allocates one
    /// block for each (the memory budget tests account for them).
    records: (u64, u64),
}

/// What [`TlsStream::drive`] runs the connection until.
enum Goal<'a> {
    /// The handshake is complete.
    Handshake,
    /// Some application data is in this buffer (or the peer closed).
    Read(&'a mut [u8]),
    /// These bytes are encrypted and sent.
    Write(&'a [u8]),
}

impl TlsStream<UnbufferedClientConnection> {
    /// Performs the TLS handshake with `name` over `tcp`. A failure is an `io::Error` whose
    /// message is that of the `rustls::Error` (e.g. "invalid peer certificate: ...").
    pub async fn connect(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        tcp: Async<TcpStream>,
    ) -> io::Result<Self> {
        let conn = UnbufferedClientConnection::new(config, name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        TlsStream::handshake(conn, tcp).await
    }
}

impl TlsStream<UnbufferedServerConnection> {
    /// Performs the server side of the TLS handshake over an accepted `tcp`. The caller bounds
    /// it in time: a client that stalls mid-handshake holds the connection until then.
    pub async fn accept(config: Arc<ServerConfig>, tcp: Async<TcpStream>) -> io::Result<Self> {
        let conn = UnbufferedServerConnection::new(config)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        TlsStream::handshake(conn, tcp).await
    }
}

impl<C: Side> TlsStream<C> {
    /// The TCP socket under the TLS layer.
    pub fn tcp(&self) -> &TcpStream {
        self.tcp.get_ref()
    }

    /// Application-data records decrypted and encrypt calls made so far on this connection.
    pub fn records(&self) -> (u64, u64) {
        self.records
    }

    /// Wraps `conn` over `tcp` and runs the handshake to its end.
    async fn handshake(conn: C, tcp: Async<TcpStream>) -> io::Result<Self> {
        let mut stream = TlsStream {
            tcp,
            conn,
            incoming: vec![0; INCOMING],
            start: 0,
            end: 0,
            outgoing: Vec::new(),
            encoded: 0,
            plaintext: Plaintext {
                buf: vec![0; PLAINTEXT_MAX].into_boxed_slice(),
                start: 0,
                end: 0,
            },
            peer_closed: false,
            records: (0, 0),
        };
        stream.drive(Goal::Handshake).await?;
        Ok(stream)
    }

    /// Runs rustls' state machine, reading and writing the socket as it asks, until `goal` is
    /// met. Returns the bytes read into a [`Goal::Read`] buffer (0 when the peer closed).
    async fn drive(&mut self, mut goal: Goal<'_>) -> io::Result<usize> {
        loop {
            let UnbufferedStatus { mut discard, state } =
                self.conn.process(&mut self.incoming[self.start..self.end]);
            let state = match state {
                Ok(state) => state,
                Err(e) => return Err(self.fail(e).await),
            };
            let mut done = None;
            let mut needs_input = false;
            match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    if let Some(record) = traffic.next_record() {
                        let record = record.map_err(invalid_data)?;
                        self.records.0 += 1;
                        discard += record.discard;
                        let data = record.payload;
                        match &mut goal {
                            Goal::Read(buf) => {
                                let n = buf.len().min(data.len());
                                buf[..n].copy_from_slice(&data[..n]);
                                self.plaintext.push(&data[n..])?;
                                done = (n > 0).then_some(n);
                            }
                            // Data ahead of the handshake's end or of a request: keep it.
                            _ => self.plaintext.push(data)?,
                        }
                    }
                }
                ConnectionState::EncodeTlsData(mut record) => loop {
                    match record.encode(&mut self.outgoing[self.encoded..]) {
                        Ok(n) => {
                            self.encoded += n;
                            break;
                        }
                        Err(EncodeError::InsufficientSize(s)) => {
                            self.outgoing.resize(self.encoded + s.required_size, 0)
                        }
                        Err(e) => return Err(io::Error::other(e)),
                    }
                },
                ConnectionState::TransmitTlsData(transmit) => {
                    self.tcp.write_all(&self.outgoing[..self.encoded]).await?;
                    self.encoded = 0;
                    transmit.done();
                }
                ConnectionState::BlockedHandshake => needs_input = true,
                ConnectionState::WriteTraffic(mut traffic) => match goal {
                    Goal::Handshake => done = Some(0),
                    Goal::Read(_) => needs_input = true,
                    Goal::Write(data) => {
                        let n = loop {
                            match traffic.encrypt(data, &mut self.outgoing) {
                                Ok(n) => break n,
                                Err(EncryptError::InsufficientSize(s)) => {
                                    self.outgoing.resize(s.required_size, 0)
                                }
                                Err(e) => return Err(io::Error::other(e)),
                            }
                        };
                        self.records.1 += 1;
                        self.tcp.write_all(&self.outgoing[..n]).await?;
                        done = Some(data.len());
                    }
                },
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    self.peer_closed = true;
                    match goal {
                        Goal::Handshake => return Err(eof("during the TLS handshake")),
                        Goal::Read(_) => done = Some(0),
                        // TLS allows writing after the peer's close_notify.
                        Goal::Write(_) => {}
                    }
                }
                other => return Err(io::Error::other(format!("unexpected TLS state {other:?}"))),
            }
            self.start += discard;
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            }
            if let Some(n) = done {
                return Ok(n);
            }
            if needs_input && !self.fill().await? {
                let when = match goal {
                    Goal::Handshake => "during the TLS handshake",
                    _ => "without a TLS close_notify",
                };
                return Err(eof(when));
            }
        }
    }

    /// Reads more ciphertext from the socket; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.incoming.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.incoming.len() {
            if self.incoming.len() >= INCOMING_MAX {
                return Err(invalid_data("TLS handshake message too large"));
            }
            self.incoming.resize(INCOMING_MAX, 0);
        }
        let n = self.tcp.read(&mut self.incoming[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }

    /// Turns a TLS failure into an `io::Error`, first sending the peer the alert rustls queued
    /// for it, if any (best effort: the connection is over anyway).
    async fn fail(&mut self, error: Error) -> io::Error {
        let status = self.conn.process(&mut []);
        if let Ok(ConnectionState::EncodeTlsData(mut alert)) = status.state {
            // An alert record, even encrypted, is a few dozen bytes.
            let mut record = [0; 64];
            if let Ok(n) = alert.encode(&mut record) {
                let _ = self.tcp.write_all(&record[..n]).await;
            }
        }
        invalid_data(error)
    }
}

impl<C: Side> Transport for TlsStream<C> {
    /// Reads decrypted application data; 0 once the peer sent `close_notify`. A connection
    /// closed without one is an `UnexpectedEof` error, so a truncated body is never taken for
    /// a complete one.
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.plaintext.is_empty() {
            return Ok(self.plaintext.take(buf));
        }
        if self.peer_closed {
            return Ok(0);
        }
        self.drive(Goal::Read(buf)).await
    }

    /// Encrypts all of `buf` and sends it.
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.drive(Goal::Write(buf)).await.map(drop)
    }
}

/// Decrypted bytes waiting to be read: `buf[start..end]`.
struct Plaintext {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Plaintext {
    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Appends `data`; fails only if the caller left more than a record unread.
    fn push(&mut self, data: &[u8]) -> io::Result<()> {
        if self.end + data.len() > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end + data.len() > self.buf.len() {
                return Err(invalid_data("unread TLS data exceeds the buffer"));
            }
        }
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
        Ok(())
    }

    /// Moves as many bytes as fit into `out`.
    fn take(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        if self.is_empty() {
            (self.start, self.end) = (0, 0);
        }
        n
    }
}

fn invalid_data(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn eof(when: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the peer closed the connection {when}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::BodyReader;
    use crate::http::conn::Conn;
    use crate::http::head::{Framing, parse_response};
    use crate::tls::{Trust, cert_fingerprint, client_config, parse_fingerprint};
    use futures_lite::future::block_on;
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use pbs_sim::{self as sim, Profile, SimConfig, SimHandle};
    use std::net::TcpListener;

    /// 10 groups × 200 snapshots in `store1`: a chunked response of about 1 MB.
    const SNAPSHOTS: &str = "/api2/json/admin/datastore/store1/snapshots";

    fn start_sim() -> SimHandle {
        let profile = Profile::new(1, 1, 10, 200);
        sim::start(SimConfig {
            profile,
            ..SimConfig::default()
        })
        .unwrap()
    }

    fn pinned(fingerprint: &[u8; 32]) -> Arc<ClientConfig> {
        client_config(&Trust::Fingerprint(*fingerprint))
            .unwrap()
            .config
    }

    async fn connect(
        addr: std::net::SocketAddr,
        config: Arc<ClientConfig>,
    ) -> io::Result<TlsStream> {
        let tcp = Async::<TcpStream>::connect(addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        TlsStream::connect(config, name, tcp).await
    }

    fn get(sim: &SimHandle, close: bool) -> Vec<u8> {
        let close = if close { "Connection: close\r\n" } else { "" };
        let auth = format!("PBSAPIToken={}:{}", sim.token_id(), sim.token_secret());
        format!(
            "GET {SNAPSHOTS} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {auth}\r\n{close}\r\n"
        )
        .into_bytes()
    }

    /// Reads `stream` until `close_notify`, `chunk` bytes at a time at most.
    async fn read_to_end(stream: &mut TlsStream, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            match stream.read(&mut buf).await.unwrap() {
                0 => return out,
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[test]
    fn large_chunked_responses_arrive_whole_on_one_connection() {
        let sim = start_sim();
        let fp = parse_fingerprint(&sim.fingerprint()).unwrap();
        block_on(async {
            let stream = connect(sim.addr(), pinned(&fp)).await.unwrap();
            let mut conn = Conn::new(stream, 16 * 1024);
            for _ in 0..3 {
                conn.write_all(&get(&sim, false)).await.unwrap();
                let n = conn.read_head().await.unwrap();
                let head = parse_response(&conn.buffered()[..n], false).unwrap();
                conn.consume(n);
                assert_eq!((head.status, head.framing), (200, Framing::Chunked));
                let mut reader = BodyReader::new(head.framing, u64::MAX);
                let mut body = Vec::new();
                while let Some(piece) = reader.next(&mut conn).await.unwrap() {
                    body.extend_from_slice(piece);
                }
                assert!(body.len() > 500_000, "{} bytes", body.len());
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(json["data"].as_array().unwrap().len(), 2000);
            }
        });
        assert_eq!(sim.connections(), 1);
        assert_eq!(sim.requests(SNAPSHOTS), 3);
    }

    #[test]
    fn a_wrong_pinned_fingerprint_fails_the_handshake() {
        let sim = start_sim();
        let err = block_on(connect(sim.addr(), pinned(&[0x5a; 32])))
            .err()
            .expect("handshake fails");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().starts_with("invalid peer certificate"),
            "{err}"
        );
        let source = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(
            matches!(source, Some(Error::InvalidCertificate(_))),
            "{err:?}"
        );
    }

    #[test]
    fn tiny_reads_reassemble_the_same_bytes() {
        let sim = start_sim();
        let fp = parse_fingerprint(&sim.fingerprint()).unwrap();
        let whole = |chunk| {
            block_on(async {
                let mut stream = connect(sim.addr(), pinned(&fp)).await.unwrap();
                stream.write_all(&get(&sim, true)).await.unwrap();
                // The simulator closes with close_notify after a `Connection: close` answer.
                read_to_end(&mut stream, chunk).await
            })
        };
        let big = whole(64 * 1024);
        let tiny = whole(7);
        assert!(big.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(
            big.ends_with(b"\r\n0\r\n\r\n"),
            "the chunked body is complete"
        );
        assert!(big.len() > 500_000, "{} bytes", big.len());
        assert!(
            big == tiny,
            "7-byte reads give other bytes than 64 KiB reads"
        );
    }

    /// A TLS 1.2-only server for one connection: reads a request head, answers `body`, then
    /// closes with `close_notify` when `clean`, or just drops the TCP connection.
    fn tls12_server(body: Vec<u8>, clean: bool) -> (std::net::SocketAddr, [u8; 32]) {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let der = ck.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(der.clone())], key)
            .unwrap();
        let acceptor = futures_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            block_on(async {
                let (tcp, _) = Async::new(listener).unwrap().accept().await.unwrap();
                let mut tls = acceptor.accept(tcp).await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0];
                while !head.ends_with(b"\r\n\r\n") {
                    tls.read_exact(&mut byte).await.unwrap();
                    head.push(byte[0]);
                }
                AsyncWriteExt::write_all(&mut tls, &body).await.unwrap();
                tls.flush().await.unwrap();
                if clean {
                    tls.close().await.unwrap();
                }
            })
        });
        (addr, cert_fingerprint(&der))
    }

    #[test]
    fn tls12_works_and_close_notify_ends_the_stream() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (addr, fp) = tls12_server(body.clone(), true);
        block_on(async {
            let mut stream = connect(addr, pinned(&fp)).await.unwrap();
            assert_eq!(
                stream.conn.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_2)
            );
            stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            assert!(read_to_end(&mut stream, 1000).await == body);
            assert_eq!(
                stream.read(&mut [0; 16]).await.unwrap(),
                0,
                "stays at its end"
            );
        });
    }

    #[test]
    fn a_close_without_close_notify_is_an_unexpected_eof() {
        let (addr, fp) = tls12_server(b"partial".to_vec(), false);
        block_on(async {
            let mut stream = connect(addr, pinned(&fp)).await.unwrap();
            stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let mut buf = [0; 64];
            let n = stream.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"partial");
            let err = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        });
    }
}
