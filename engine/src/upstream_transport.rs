//! A provider's byte stream: TCP, or TLS over TCP, read and written alike
//! (tokio-util's `Either` forwards every read and write to the one it holds).

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

/// `Left`: plain TCP; `Right`: TLS over TCP.
pub(crate) type Transport = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// The TCP stream underneath.
pub(crate) fn tcp(transport: &Transport) -> &TcpStream {
    match transport {
        Either::Left(tcp) => tcp,
        Either::Right(tls) => tls.get_ref().0,
    }
}
