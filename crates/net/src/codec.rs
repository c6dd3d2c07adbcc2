//! Frames for the request-response protocols: a 4-byte big-endian length
//! followed by that many bytes. A frame longer than the limit is refused
//! before it is read, so a peer cannot make us buffer more than the limit.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use std::io;

/// A request as read from a peer: a frame, or why none could be read.
///
/// A bad frame is handed on rather than failing the stream: libp2p drops a
/// stream whose request cannot be read without telling anyone, and the
/// node should log who sent what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A well-formed frame's bytes.
    Frame(Vec<u8>),
    /// The frame could not be read (oversized or truncated): why.
    Bad(String),
}

/// Length-prefixed byte frames with a size limit.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    /// Largest frame accepted or sent, in bytes.
    pub frame_bytes_max: usize,
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await.map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "truncated frame: the stream ended inside the 4-byte length prefix",
        ),
        _ => e,
    })?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("oversized frame: its length prefix says {len} bytes, over the limit of {max} bytes"),
        ));
    }
    // Read what arrives rather than allocate what is promised: a peer that
    // announces 8 MiB and sends nothing costs us nothing.
    let mut buf = Vec::new();
    io.take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "truncated frame: its length prefix says {len} bytes, but the stream ended after {}",
                buf.len()
            ),
        ));
    }
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, data: &[u8], max: usize) -> io::Result<()> {
    if data.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds the limit of {max} bytes", data.len()),
        ));
    }
    io.write_all(&(data.len() as u32).to_be_bytes()).await?;
    io.write_all(data).await?;
    io.close().await
}

impl libp2p::request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Request> {
        match read_frame(io, self.frame_bytes_max).await {
            Ok(frame) => Ok(Request::Frame(frame)),
            Err(e) if matches!(e.kind(), io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof) => {
                Ok(Request::Bad(e.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        read_frame(io, self.frame_bytes_max).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()> {
        match req {
            Request::Frame(data) => write_frame(io, &data, self.frame_bytes_max).await,
            Request::Bad(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a bad frame stands for one that could not be read; it cannot be sent",
            )),
        }
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()> {
        write_frame(io, &res, self.frame_bytes_max).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    #[test]
    fn frames_round_trip_and_oversize_or_truncated_frames_fail() {
        futures::executor::block_on(async {
            let mut buf = Cursor::new(Vec::new());
            write_frame(&mut buf, b"hello", 10).await.unwrap();
            let bytes = buf.into_inner();
            assert_eq!(read_frame(&mut Cursor::new(bytes.clone()), 10).await.unwrap(), b"hello");
            // Truncated: the length says 5, only 3 arrive.
            let err = read_frame(&mut Cursor::new(bytes[..7].to_vec()), 10).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            assert!(err.to_string().contains("truncated frame"), "{err}");
            assert!(
                err.to_string().contains("says 5 bytes") && err.to_string().contains("after 3"),
                "{err}"
            );
            // Truncated inside the length prefix.
            let err = read_frame(&mut Cursor::new(vec![0, 0]), 10).await.unwrap_err();
            assert!(err.to_string().contains("length prefix"), "{err}");
            // Oversized: refused from the length alone.
            let mut big = (1_000_000u32).to_be_bytes().to_vec();
            big.extend_from_slice(b"xx");
            let err = read_frame(&mut Cursor::new(big), 10).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("oversized frame"), "{err}");
            assert!(write_frame(&mut Cursor::new(Vec::new()), &[0; 11], 10).await.is_err());
        });
    }
}
