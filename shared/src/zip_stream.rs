//! Streams many blobs into one zip blob with bounded memory.
//!
//! A producer reads each source and writes it as a `Stored` zip entry (photos are already
//! compressed; deflating them costs CPU and saves nothing) into an in-memory pipe; the
//! destination's `put` consumes the other end concurrently. Memory is the pipe, one copy
//! buffer and whatever the backend's `put` buffers, independent of the archive size.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipEntryBuilder};
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader, DuplexStream, ReadBuf};
use tokio_util::compat::FuturesAsyncWriteCompatExt;

use crate::ports::blob::{BlobError, BlobKey, BlobStore, ZipSource, ZipSummary};

/// Pipe capacity between the zip writer and the upload.
const PIPE_BYTES: usize = 1 << 20;
/// Read buffer per source.
const READ_BYTES: usize = 256 << 10;

pub async fn zip_blobs<S: BlobStore + ?Sized>(
    store: &S,
    sources: &[ZipSource],
    dest: &BlobKey,
) -> Result<ZipSummary, BlobError> {
    let (write_half, read_half) = tokio::io::duplex(PIPE_BYTES);
    let finished = Arc::new(AtomicBool::new(false));
    let body = CompletionGuard {
        inner: read_half,
        finished: finished.clone(),
    };

    let upload = store.put(dest, Box::pin(body), "application/zip");
    // On failure the producer drops its end of the pipe without marking it finished: the
    // upload then reads an error instead of a clean end, and stores nothing.
    let produce = write_zip(store, sources, write_half, &finished);
    // Both run to completion (no short-circuit): a failed upload must get the chance to abort
    // its multipart upload or remove its temporary file, and a failed producer makes the upload
    // fail that way. If both fail, the producer's error is the cause.
    let (uploaded, produced) = tokio::join!(upload, produce);
    let (entries, content_bytes) = produced?;
    let archive_bytes = uploaded?;
    Ok(ZipSummary {
        entries,
        content_bytes,
        archive_bytes,
    })
}

async fn write_zip<S: BlobStore + ?Sized>(
    store: &S,
    sources: &[ZipSource],
    pipe: DuplexStream,
    finished: &AtomicBool,
) -> Result<(u32, u64), BlobError> {
    let mut zip = ZipFileWriter::with_tokio(pipe);
    let mut content_bytes = 0u64;
    for source in sources {
        let reader = store.get(&source.key).await?;
        let mut reader = BufReader::with_capacity(READ_BYTES, reader);
        let entry = ZipEntryBuilder::new(source.name.clone().into(), Compression::Stored);
        let mut entry_writer = zip
            .write_entry_stream(entry)
            .await
            .map_err(zip_error)?
            .compat_write();
        content_bytes += tokio::io::copy_buf(&mut reader, &mut entry_writer).await?;
        entry_writer.into_inner().close().await.map_err(zip_error)?;
    }
    let mut pipe = zip.close().await.map_err(zip_error)?.into_inner();
    finished.store(true, Ordering::Release);
    pipe.shutdown().await?;
    let entries =
        u32::try_from(sources.len()).map_err(|_| BlobError::Zip("too many entries".into()))?;
    Ok((entries, content_bytes))
}

fn zip_error(e: async_zip::error::ZipError) -> BlobError {
    BlobError::Zip(e.to_string())
}

/// Reads the pipe, turning an end of stream that the producer did not mark as finished into
/// an error, so a failed archive is never stored as if it were complete.
struct CompletionGuard {
    inner: DuplexStream,
    finished: Arc<AtomicBool>,
}

impl AsyncRead for CompletionGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let at_eof = buf.filled().len() == before && buf.remaining() > 0;
            if at_eof && !self.finished.load(Ordering::Acquire) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "archive producer stopped early",
                )));
            }
        }
        polled
    }
}
