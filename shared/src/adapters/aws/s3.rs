use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, ServerSideEncryption as Sse,
};
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;
use url::Url;

use super::OnFirstUse;
use super::error::AwsError;
use crate::adapters::aws::ServerSideEncryption;
use crate::ports::blob::{BlobError, BlobKey, BlobReader, BlobStore, validate_prefix};

/// Size of one multipart part, and so of the largest buffer a `put` holds. S3 requires at
/// least 5 MiB for every part but the last.
const PART_BYTES: usize = 8 << 20;
/// Parts uploading at once while the next one fills.
const PARTS_IN_FLIGHT: usize = 2;
/// S3's limit of keys per DeleteObjects request.
const DELETE_BATCH_MAX: usize = 1000;

/// [`BlobStore`] on one S3 bucket, encrypting every object at rest.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: OnFirstUse<Client>,
    bucket: String,
    encryption: ServerSideEncryption,
}

fn sdk_err<E: std::error::Error + Send + Sync + 'static>(
    e: aws_sdk_s3::error::SdkError<E>,
) -> BlobError {
    BlobError::backend(AwsError::from_sdk(e))
}

/// Reads until `buf` holds `PART_BYTES` or the body ends; returns false at the end.
async fn fill_part(body: &mut BlobReader, buf: &mut BytesMut) -> Result<bool, BlobError> {
    while buf.len() < PART_BYTES {
        if body.read_buf(buf).await? == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

impl S3Blobs {
    pub fn new(
        client: impl Into<OnFirstUse<Client>>,
        bucket: impl Into<String>,
        encryption: ServerSideEncryption,
    ) -> Self {
        Self {
            client: client.into(),
            bucket: bucket.into(),
            encryption,
        }
    }

    fn sse(&self) -> (Sse, Option<String>) {
        match &self.encryption {
            ServerSideEncryption::S3Managed => (Sse::Aes256, None),
            ServerSideEncryption::Kms { key_id } => (Sse::AwsKms, key_id.clone()),
        }
    }

    async fn put_single(
        &self,
        key: &BlobKey,
        data: bytes::Bytes,
        content_type: &str,
    ) -> Result<u64, BlobError> {
        let (sse, kms_key) = self.sse();
        let len = data.len() as u64;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(len as i64)
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms_key)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(len)
    }

    async fn put_multipart(
        &self,
        key: &BlobKey,
        first: BytesMut,
        body: &mut BlobReader,
        content_type: &str,
    ) -> Result<u64, BlobError> {
        let (sse, kms_key) = self.sse();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms_key)
            .send()
            .await
            .map_err(sdk_err)?;
        let upload_id = created
            .upload_id
            .ok_or_else(|| BlobError::backend(AwsError::msg("S3 returned no upload id")))?;
        let uploaded = self.upload_parts(key, &upload_id, first, body).await;
        match uploaded {
            Ok(total) => Ok(total),
            Err(e) => {
                // Leave no parts behind to be billed; the bucket's lifecycle rule is the backstop.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &BlobKey,
        upload_id: &str,
        first: BytesMut,
        body: &mut BlobReader,
    ) -> Result<u64, BlobError> {
        // Up to PARTS_IN_FLIGHT parts upload while the next one fills, so reading the body and
        // uploading overlap; memory stays at PARTS_IN_FLIGHT + 1 part buffers.
        let mut uploads: JoinSet<Result<CompletedPart, BlobError>> = JoinSet::new();
        let mut parts = Vec::new();
        let mut total = 0u64;
        let mut buf = first;
        let mut more = true;
        let mut number = 0;
        while !buf.is_empty() {
            let data = buf.split().freeze();
            total += data.len() as u64;
            number += 1;
            uploads.spawn(upload_part(
                Client::clone(&self.client),
                self.bucket.clone(),
                key.to_string(),
                upload_id.to_owned(),
                number,
                data,
            ));
            if uploads.len() >= PARTS_IN_FLIGHT {
                parts.push(join_part(uploads.join_next().await)?);
            }
            if more {
                buf.reserve(PART_BYTES);
                more = fill_part(body, &mut buf).await?;
            }
        }
        while let Some(done) = uploads.join_next().await {
            parts.push(join_part(Some(done))?);
        }
        parts.sort_by_key(|p| p.part_number);
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(total)
    }

    /// One DeleteObjects request (at most [`DELETE_BATCH_MAX`] keys); S3 answers per key.
    async fn delete_batch(&self, objects: Vec<ObjectIdentifier>) -> Result<u64, BlobError> {
        let count = objects.len() as u64;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(BlobError::backend)?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(sdk_err)?;
        if let Some(first) = out.errors.as_deref().and_then(|e| e.first()) {
            return Err(BlobError::backend(AwsError::msg(format!(
                "S3 refused to delete {}: {}",
                first.key.as_deref().unwrap_or("?"),
                first.message.as_deref().unwrap_or("unknown error")
            ))));
        }
        Ok(count)
    }
}

async fn upload_part(
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    number: i32,
    data: bytes::Bytes,
) -> Result<CompletedPart, BlobError> {
    let out = client
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .content_length(data.len() as i64)
        .body(ByteStream::from(data))
        .send()
        .await
        .map_err(sdk_err)?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag)
        .build())
}

fn join_part(
    joined: Option<Result<Result<CompletedPart, BlobError>, tokio::task::JoinError>>,
) -> Result<CompletedPart, BlobError> {
    match joined {
        Some(Ok(part)) => part,
        Some(Err(e)) => Err(BlobError::backend(e)),
        None => Err(BlobError::backend(AwsError::msg("part upload vanished"))),
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(
        &self,
        key: &BlobKey,
        mut body: BlobReader,
        content_type: &str,
    ) -> Result<u64, BlobError> {
        // Small bodies take one request; larger ones stream as a multipart upload, one part in
        // memory at a time, and an error mid-body aborts the upload so nothing is stored.
        let mut first = BytesMut::with_capacity(PART_BYTES);
        if !fill_part(&mut body, &mut first).await? {
            return self.put_single(key, first.freeze(), content_type).await;
        }
        self.put_multipart(key, first, &mut body, content_type)
            .await
    }

    async fn get(&self, key: &BlobKey) -> Result<BlobReader, BlobError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    BlobError::NotFound(key.to_string())
                } else {
                    sdk_err(e)
                }
            })?;
        Ok(Box::pin(out.body.into_async_read()))
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        // S3 answers 204 for a missing key too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn delete_prefixes(&self, prefixes: &[String]) -> Result<u64, BlobError> {
        for prefix in prefixes {
            validate_prefix(prefix)?;
        }
        let mut deleted = 0u64;
        let mut pending: Vec<ObjectIdentifier> = Vec::new();
        for prefix in prefixes {
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let objects = page
                    .map_err(sdk_err)?
                    .contents
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|o| ObjectIdentifier::builder().set_key(o.key).build().ok());
                for object in objects {
                    if pending.len() == DELETE_BATCH_MAX {
                        deleted += self.delete_batch(std::mem::take(&mut pending)).await?;
                    }
                    pending.push(object);
                }
            }
        }
        if !pending.is_empty() {
            deleted += self.delete_batch(pending).await?;
        }
        Ok(deleted)
    }

    async fn presign_get(&self, key: &BlobKey, ttl: Duration) -> Result<Url, BlobError> {
        let config = PresigningConfig::expires_in(ttl).map_err(BlobError::backend)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(sdk_err)?;
        Url::parse(request.uri()).map_err(BlobError::backend)
    }
}
