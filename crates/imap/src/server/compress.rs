//! COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions of the connection are
//! raw DEFLATE (RFC 1951, no zlib header) on top of TLS. [`MaybeDeflate`] wraps the TLS
//! stream from the start and passes bytes through until [`MaybeDeflate::start`].
//!
//! Every flush of the writer ends with a DEFLATE sync flush (RFC 4978 §4: the server
//! flushes after each response so the client can read it at once).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use imap_codec::imap_types::{core::Tag, extensions::compress::CompressionAlgorithm};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Out;

/// Compressed octets read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Answers COMPRESS: OK (the caller then sends it and calls [`MaybeDeflate::start`]), or NO
/// `[COMPRESSIONACTIVE]` when compression is already on (RFC 4978 §3). True when the caller
/// should start compressing.
pub fn answer(
    active: bool,
    out: &mut Out,
    tag: Tag<'static>,
    algorithm: &CompressionAlgorithm,
) -> bool {
    if !matches!(algorithm, CompressionAlgorithm::Deflate) {
        out.no(tag, None, "Only DEFLATE is supported");
        return false;
    }
    if active {
        out.no_code(tag, "COMPRESSIONACTIVE", "DEFLATE is already active");
        return false;
    }
    out.ok(tag, None, "DEFLATE active");
    true
}

/// A stream that is plain until [`MaybeDeflate::start`], then raw DEFLATE both ways.
pub struct MaybeDeflate<S> {
    inner: S,
    deflate: Option<Box<Deflate>>,
}

struct Deflate {
    compress: Compress,
    decompress: Decompress,
    /// Compressed octets read, not yet inflated.
    read_buf: Vec<u8>,
    /// Compressed octets produced, not yet written.
    write_buf: Vec<u8>,
    /// Data went into the compressor since the last sync flush.
    unflushed: bool,
}

impl<S> MaybeDeflate<S> {
    /// A pass-through wrapper around `inner`.
    pub fn new(inner: S) -> MaybeDeflate<S> {
        MaybeDeflate {
            inner,
            deflate: None,
        }
    }

    /// Whether compression is on.
    pub fn is_active(&self) -> bool {
        self.deflate.is_some()
    }

    /// Turns compression on for everything read and written from now on.
    pub fn start(&mut self) {
        self.deflate = Some(Box::new(Deflate {
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
            read_buf: Vec::new(),
            write_buf: Vec::new(),
            unflushed: false,
        }));
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// Compresses `input` into `out`, growing it until the compressor has room to spare (which
/// is also how a sync flush is known to be complete).
fn compress_into(
    c: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> io::Result<()> {
    loop {
        out.reserve(input.len() / 2 + 1024);
        let before = c.total_in();
        c.compress_vec(input, out, flush)
            .map_err(io::Error::other)?;
        let consumed = usize::try_from(c.total_in() - before).unwrap_or(input.len());
        input = &input[consumed.min(input.len())..];
        if input.is_empty() && out.len() < out.capacity() {
            return Ok(());
        }
    }
}

impl<S: AsyncWrite + Unpin> MaybeDeflate<S> {
    /// Writes the pending compressed octets to the socket.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(d) = self.deflate.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while !d.write_buf.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &d.write_buf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            d.write_buf.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for MaybeDeflate<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(d) = this.deflate.as_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        loop {
            // Also with no new input: the inflater may hold output a full buffer left over.
            let (in_before, out_before) = (d.decompress.total_in(), d.decompress.total_out());
            let dst = buf.initialize_unfilled();
            d.decompress
                .decompress(&d.read_buf, dst, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = usize::try_from(d.decompress.total_in() - in_before).unwrap_or(0);
            let produced = usize::try_from(d.decompress.total_out() - out_before).unwrap_or(0);
            d.read_buf.drain(..consumed.min(d.read_buf.len()));
            if produced > 0 {
                buf.advance(produced);
                return Poll::Ready(Ok(()));
            }
            if consumed > 0 {
                continue;
            }
            // Nothing to inflate: read more compressed octets.
            let mut chunk = [0u8; READ_CHUNK];
            let mut chunk_buf = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk_buf))?;
            if chunk_buf.filled().is_empty() {
                return Poll::Ready(Ok(())); // end of stream
            }
            d.read_buf.extend_from_slice(chunk_buf.filled());
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for MaybeDeflate<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.deflate.is_none() {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        ready!(this.poll_drain(cx))?;
        let d = this
            .deflate
            .as_mut()
            .expect("checked above: compression is on");
        compress_into(&mut d.compress, data, &mut d.write_buf, FlushCompress::None)?;
        d.unflushed = true;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(d) = this.deflate.as_mut()
            && std::mem::take(&mut d.unflushed)
        {
            compress_into(&mut d.compress, &[], &mut d.write_buf, FlushCompress::Sync)?;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn both_directions_round_trip_through_deflate() {
        let (a, b) = tokio::io::duplex(64);
        let (mut a, mut b) = (MaybeDeflate::new(a), MaybeDeflate::new(b));
        a.write_all(b"plain\r\n").await.expect("write");
        a.flush().await.expect("flush");
        let mut got = [0u8; 7];
        b.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"plain\r\n");
        a.start();
        b.start();
        let text = "* 1 FETCH (BODY[] {30}\r\n홍길동 김철수 회의 안내)\r\n".repeat(200);
        let writer = tokio::spawn(async move {
            a.write_all(text.as_bytes()).await.expect("write");
            a.flush().await.expect("flush");
            a
        });
        let expected = "* 1 FETCH (BODY[] {30}\r\n홍길동 김철수 회의 안내)\r\n".repeat(200);
        let mut got = vec![0u8; expected.len()];
        b.read_exact(&mut got).await.expect("read");
        assert_eq!(got, expected.as_bytes());
        let a = writer.await.expect("writer");
        assert!(a.is_active() && b.is_active());
    }
}
