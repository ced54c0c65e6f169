//! Keeping the pictures of picture work (a generation, an upscale): every picture fal.ai did not flag is fetched from its CDN
//! (or a `data:` URI), checked to be an image, and kept in blob storage under the avatar
//! before the outcome is written, so whoever wins the write can deliver them (and the sweep
//! can deliver them again) without fal.ai.

use super::super::{Pipeline, PipelineResult};
use crate::domain::{GeneratedImage, Generation, ImageFormat, blob_keys};
use crate::fal::generation::ResultImage;

impl Pipeline {
    /// Fetches every image fal.ai did not flag, of at most `max_bytes`, and keeps it in blob
    /// storage under the record's own prefix (for any kind of picture work).
    pub(in crate::pipeline) async fn keep_images(
        &self,
        generation: &Generation,
        images: &[ResultImage],
        max_bytes: usize,
    ) -> PipelineResult<Vec<GeneratedImage>> {
        let mut kept = Vec::with_capacity(images.len());
        for (index, image) in images.iter().enumerate() {
            if image.nsfw {
                kept.push(GeneratedImage::Filtered);
                continue;
            }
            let bytes = match self.fetcher.bytes(&image.url, max_bytes).await? {
                Ok(bytes) => bytes,
                Err(unavailable) => {
                    tracing::warn!(generation = %generation.id, index, detail = %unavailable.0, "generated image not available");
                    kept.push(GeneratedImage::Unavailable {
                        detail: unavailable.0,
                    });
                    continue;
                }
            };
            let format = match imagesize::image_type(&bytes) {
                Ok(imagesize::ImageType::Jpeg) => ImageFormat::Jpeg,
                Ok(imagesize::ImageType::Png) => ImageFormat::Png,
                Ok(imagesize::ImageType::Webp) => ImageFormat::Webp,
                _ => {
                    kept.push(GeneratedImage::Unavailable {
                        detail: "not a JPEG, PNG or WebP image".into(),
                    });
                    continue;
                }
            };
            let key = blob_keys::generated_image(
                generation.owner,
                generation.avatar_id,
                generation.id,
                index,
                format,
            );
            let reader = Box::pin(std::io::Cursor::new(bytes));
            self.blobs.put(&key, reader, format.mime_type()).await?;
            kept.push(GeneratedImage::Stored {
                key: key.as_str().to_owned(),
                width: image.width,
                height: image.height,
            });
        }
        Ok(kept)
    }
}
