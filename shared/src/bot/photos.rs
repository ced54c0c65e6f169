//! Photo intake: one image per update (an album is one update per item), checked before and
//! after download, its metadata removed (`photo_metadata`: no GPS position, no camera serial,
//! no thumbnail), stored and hashed, then recorded atomically with the avatar's photo count.
//! A refused image leaves nothing behind.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio_util::io::StreamReader;

use super::{BotResult, Turn};
use crate::domain::policy::{self, PhotoRefusal};
use crate::domain::{
    Avatar, AvatarEvent, ContentHash, DialogueState, ImageFormat, MessageRef, Photo,
    PhotoRejection, blob_keys,
};
use crate::photo_metadata;
use crate::ports::{BlobError, PhotoAdded, StoreError};
use crate::telegram::client::TelegramError;
use crate::telegram::incoming::{ImageOrigin, IncomingImage};
use crate::telegram::screens::{self, Screen};

/// Telegram lets bots download files up to 20 MB.
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;
/// The shortest side a training photo must have.
pub const MIN_SIDE_PX: u32 = 512;
/// How much of the file is read to find its format and size before anything is stored
/// (JPEG dimensions can sit behind a large EXIF block).
const HEADER_LIMIT: usize = 256 * 1024;
/// Attempts at recording a photo when concurrent writes to the avatar conflict.
const RECORD_ATTEMPTS: u32 = 5;

impl Turn<'_> {
    pub(super) async fn image(&mut self, image: IncomingImage) -> BotResult<()> {
        let t = self.t();
        if let DialogueState::SendingRestylePhoto { avatar_id }
        | DialogueState::Restyling { avatar_id, .. }
        | DialogueState::RestylingPicture { avatar_id, .. } = &self.user.dialogue
        {
            return self.restyle_photo(*avatar_id, image).await;
        }
        let (avatar_id, progress) = match &self.user.dialogue {
            DialogueState::SendingPhotos {
                avatar_id,
                progress_message,
            } => (*avatar_id, *progress_message),
            DialogueState::ConfirmingTraining { avatar_id } => (*avatar_id, None),
            _ => {
                self.send(&Screen::new(
                    t.photo_not_expected(),
                    screens::menu_keyboard(t, &self.bot.limits.money.billing),
                ))
                .await;
                return Ok(());
            }
        };
        let Some(avatar) = self.bot.store.get_avatar(self.user.id, avatar_id).await? else {
            self.set_dialogue(crate::domain::DialogueState::Idle);
            self.send(&Screen::new(
                t.not_found(),
                screens::menu_keyboard(t, &self.bot.limits.money.billing),
            ))
            .await;
            return Ok(());
        };
        match policy::photo_refusal(&avatar, &self.bot.limits) {
            Some(PhotoRefusal::NeedsConsent) => {
                // Nothing is downloaded: the question is asked again.
                self.send(&self.photos_screen(&avatar, false)).await;
                return Ok(());
            }
            Some(PhotoRefusal::Closed) => {
                self.send(&Screen::text(t.photos_closed())).await;
                return Ok(());
            }
            Some(PhotoRefusal::Full { max }) => {
                return self.tell_full(&avatar, progress, max).await;
            }
            None => {}
        }
        if let Err(rejection) = check_declared(&image) {
            return self.reject(&avatar, rejection).await;
        }
        // A photo sent again is known by its file_unique_id: skip it without downloading.
        let known = self.bot.store.list_photos(avatar.id).await?;
        if known
            .iter()
            .any(|p| p.file_unique_id == image.file_unique_id)
        {
            return self.show_progress(&avatar, progress, true).await;
        }
        let (owner, id, unique) = (avatar.owner, avatar.id, image.file_unique_id.clone());
        let stored = match self
            .fetch_and_store(&image.file_id, |format| {
                blob_keys::photo(owner, id, &unique, format)
            })
            .await?
        {
            Ok(stored) => stored,
            Err(rejection) => return self.reject(&avatar, rejection).await,
        };
        let key = stored.key.clone();
        let photo = Photo {
            avatar_id: avatar.id,
            owner: avatar.owner,
            file_unique_id: image.file_unique_id.clone(),
            file_id: image.file_id.clone(),
            blob_key: stored.key,
            content_hash: stored.hash,
            format: stored.format,
            width: stored.width,
            height: stored.height,
            size_bytes: stored.size,
            added_at: self.now,
        };
        let outcome = self.record(&photo).await;
        // Anything but "added" (or the same file recorded meanwhile under this very key)
        // leaves an object nobody refers to: remove it. An error says nothing about whether
        // the write happened: look before deleting, and when even that is unclear keep the
        // file (an orphan goes with the avatar; a record without its file would spoil the
        // training).
        let orphaned = match &outcome {
            Ok(PhotoAdded::Added(_) | PhotoAdded::DuplicateFile) => false,
            Ok(_) => true,
            Err(_) => match self.bot.store.list_photos(avatar.id).await {
                Ok(photos) => !photos.iter().any(|p| p.blob_key == key),
                Err(_) => false,
            },
        };
        if orphaned && let Err(e) = self.bot.blobs.delete(&key).await {
            tracing::warn!(error = %e, "could not remove an unrecorded photo; it stays under the avatar prefix until the avatar is deleted");
        }
        match outcome? {
            PhotoAdded::Added(now) => {
                tracing::info!(avatar = %avatar.id, photo_count = now.photo_count, "photo added");
                let avatar = self.after_added(*now).await?;
                self.show_progress(&avatar, progress, false).await
            }
            PhotoAdded::DuplicateFile | PhotoAdded::DuplicateContent => {
                self.show_progress(&avatar, progress, true).await
            }
            PhotoAdded::Full { max } => self.tell_full(&avatar, progress, max).await,
            PhotoAdded::NotAccepting => {
                self.send(&Screen::text(t.photos_closed())).await;
                Ok(())
            }
            PhotoAdded::AvatarMissing => {
                self.set_dialogue(DialogueState::Idle);
                self.send(&Screen::text(t.not_found())).await;
                Ok(())
            }
        }
    }

    async fn reject(&mut self, avatar: &Avatar, rejection: PhotoRejection) -> BotResult<()> {
        tracing::info!(avatar = %avatar.id, reason = rejection.code(), "photo rejected");
        let t = self.t();
        self.send(&Screen::text(t.photo_rejected(&rejection))).await;
        Ok(())
    }

    /// The avatar is full: said once, on the progress message (an edit: a flood of extra
    /// photos does not become a flood of messages), or in a message when there is none.
    async fn tell_full(
        &mut self,
        avatar: &Avatar,
        progress: Option<MessageRef>,
        max: u32,
    ) -> BotResult<()> {
        let Some(progress) = progress else {
            self.send(&Screen::text(self.t().photos_full(max))).await;
            return Ok(());
        };
        let mut screen = self.photos_screen(avatar, false);
        screen.text = format!("{}\n\n⚠️ {}", screen.text, self.t().photos_full(max));
        let shown = self.show(Some(progress), &screen).await;
        self.set_dialogue(DialogueState::SendingPhotos {
            avatar_id: avatar.id,
            progress_message: shown.or(Some(progress)),
        });
        Ok(())
    }

    /// Edits the one progress message (or sends it when there is none yet) and remembers it.
    async fn show_progress(
        &mut self,
        avatar: &Avatar,
        progress: Option<MessageRef>,
        duplicate_skipped: bool,
    ) -> BotResult<()> {
        let screen = self.photos_screen(avatar, duplicate_skipped);
        let shown = self.show(progress, &screen).await;
        self.set_dialogue(DialogueState::SendingPhotos {
            avatar_id: avatar.id,
            progress_message: shown.or(progress),
        });
        Ok(())
    }

    async fn record(&self, photo: &Photo) -> BotResult<PhotoAdded> {
        let mut attempt = 1;
        loop {
            match self
                .bot
                .store
                .add_photo(photo, self.bot.limits.quotas.max_photos)
                .await
            {
                Err(StoreError::Conflict(_)) if attempt < RECORD_ATTEMPTS => attempt += 1,
                other => return Ok(other?),
            }
        }
    }

    /// Once the minimum is reached the avatar becomes `ready`. Takes the avatar as the photo
    /// left it; returns it as stored.
    async fn after_added(&self, mut avatar: Avatar) -> BotResult<Avatar> {
        for _ in 0..RECORD_ATTEMPTS {
            if !policy::reaches_minimum(&avatar, &self.bot.limits) {
                return Ok(avatar);
            }
            let ready = avatar
                .apply(AvatarEvent::MinimumReached, self.now)
                .expect("collecting photos -> ready is legal");
            match self.bot.store.update_avatar(&ready).await {
                Ok(stored) => return Ok(stored),
                // Another photo of the album wrote first: look again.
                Err(StoreError::Conflict(_)) => {
                    match self.bot.store.get_avatar(self.user.id, avatar.id).await? {
                        Some(current) => avatar = current,
                        None => return Ok(avatar),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(avatar)
    }

    /// Downloads the image, removes its metadata and stores it at the key its format gives.
    /// `Ok(Err(_))` is the user's problem (a refusal to explain), `Err(_)` ours (transient:
    /// the update is retried).
    pub(super) async fn fetch_and_store(
        &self,
        file_id: &str,
        key_of: impl FnOnce(ImageFormat) -> crate::ports::BlobKey,
    ) -> BotResult<Result<Stored, PhotoRejection>> {
        let too_large = PhotoRejection::TooLarge {
            max_mb: (MAX_DOWNLOAD_BYTES / (1024 * 1024)) as u32,
        };
        let file = match self.bot.telegram.get_file(file_id).await {
            Ok(file) => file,
            Err(TelegramError::Refused(text)) if text.contains("file is too big") => {
                return Ok(Err(too_large));
            }
            Err(TelegramError::Refused(text)) => {
                tracing::warn!(%text, "getFile refused");
                return Ok(Err(PhotoRejection::Unreadable));
            }
            Err(e) => return Err(e.into()),
        };
        if u64::from(file.size) > MAX_DOWNLOAD_BYTES {
            return Ok(Err(too_large));
        }
        let mut body = StreamReader::new(self.bot.telegram.download(&file));
        let mut head = Vec::with_capacity(16 * 1024);
        let sniffed = loop {
            let mut chunk = [0u8; 16 * 1024];
            let n = body.read(&mut chunk).await.map_err(BlobError::Io)?;
            head.extend_from_slice(&chunk[..n]);
            match sniff(&head) {
                Sniff::Known(found) => break found,
                Sniff::Refused(rejection) => return Ok(Err(rejection)),
                Sniff::NeedMore if n == 0 || head.len() >= HEADER_LIMIT => {
                    return Ok(Err(PhotoRejection::Unreadable));
                }
                Sniff::NeedMore => {}
            }
        };
        let (format, width, height) = sniffed;
        if width.min(height) < MIN_SIDE_PX {
            return Ok(Err(PhotoRejection::TooSmall {
                width,
                height,
                min_side: MIN_SIDE_PX,
            }));
        }
        // The whole photo, within the limit (a server may ignore its own `file_size`): its
        // metadata goes before it is stored, so nothing that reads it later sees any.
        let mut whole = head;
        let room = (MAX_DOWNLOAD_BYTES + 1).saturating_sub(whole.len() as u64);
        (&mut body)
            .take(room)
            .read_to_end(&mut whole)
            .await
            .map_err(BlobError::Io)?;
        if whole.len() as u64 > MAX_DOWNLOAD_BYTES {
            return Ok(Err(too_large));
        }
        let clean = match photo_metadata::strip(format, Bytes::from(whole)) {
            Ok(clean) => clean,
            Err(e) => {
                tracing::info!(error = %e, "photo unreadable past its header");
                return Ok(Err(PhotoRejection::Unreadable));
            }
        };
        let key = key_of(format);
        let hash = ContentHash::from_digest(Sha256::digest(&clean).into());
        let size = self
            .bot
            .blobs
            .put(
                &key,
                Box::pin(std::io::Cursor::new(clean)),
                format.mime_type(),
            )
            .await?;
        Ok(Ok(Stored {
            key,
            hash,
            format,
            width,
            height,
            size,
        }))
    }
}

pub(super) struct Stored {
    pub key: crate::ports::BlobKey,
    pub hash: ContentHash,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub size: u64,
}

/// Refusals that need no download: declared type, declared size, Telegram's photo size.
pub(super) fn check_declared(image: &IncomingImage) -> Result<(), PhotoRejection> {
    if u64::from(image.declared_size) > MAX_DOWNLOAD_BYTES {
        return Err(PhotoRejection::TooLarge {
            max_mb: (MAX_DOWNLOAD_BYTES / (1024 * 1024)) as u32,
        });
    }
    match &image.origin {
        ImageOrigin::Photo { width, height } => {
            if (*width).min(*height) < MIN_SIDE_PX {
                return Err(PhotoRejection::TooSmall {
                    width: *width,
                    height: *height,
                    min_side: MIN_SIDE_PX,
                });
            }
        }
        ImageOrigin::Document {
            mime_type,
            file_name,
        } => {
            let mime = mime_type
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let extension = file_name
                .as_deref()
                .and_then(|n| n.rsplit_once('.'))
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            if mime.starts_with("image/hei") || matches!(extension.as_str(), "heic" | "heif") {
                return Err(PhotoRejection::Heic);
            }
            let declared_ok = matches!(mime.as_str(), "image/jpeg" | "image/png" | "image/webp")
                || (mime.is_empty() || mime == "application/octet-stream")
                    && matches!(extension.as_str(), "jpg" | "jpeg" | "png" | "webp");
            if !declared_ok {
                return Err(PhotoRejection::UnsupportedFormat);
            }
        }
    }
    Ok(())
}

enum Sniff {
    Known((ImageFormat, u32, u32)),
    Refused(PhotoRejection),
    NeedMore,
}

/// The format and size from the file's own bytes: what it claims is not trusted.
fn sniff(head: &[u8]) -> Sniff {
    use imagesize::ImageType;
    if head.len() < 32 {
        return Sniff::NeedMore;
    }
    let format = match imagesize::image_type(head) {
        Ok(ImageType::Jpeg) => ImageFormat::Jpeg,
        Ok(ImageType::Png) => ImageFormat::Png,
        Ok(ImageType::Webp) => ImageFormat::Webp,
        Ok(ImageType::Heif(_)) => return Sniff::Refused(PhotoRejection::Heic),
        Ok(_) => return Sniff::Refused(PhotoRejection::UnsupportedFormat),
        Err(_) => return Sniff::Refused(PhotoRejection::Unreadable),
    };
    match imagesize::blob_size(head) {
        Ok(size) if size.width > 0 && size.height > 0 => Sniff::Known((
            format,
            u32::try_from(size.width).unwrap_or(u32::MAX),
            u32::try_from(size.height).unwrap_or(u32::MAX),
        )),
        _ => Sniff::NeedMore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(mime: Option<&str>, name: Option<&str>) -> IncomingImage {
        IncomingImage {
            file_id: "f".into(),
            file_unique_id: "u".into(),
            declared_size: 1000,
            origin: ImageOrigin::Document {
                mime_type: mime.map(str::to_owned),
                file_name: name.map(str::to_owned),
            },
        }
    }

    #[test]
    fn declared_checks() {
        assert_eq!(
            check_declared(&doc(Some("image/heic"), Some("a.HEIC"))),
            Err(PhotoRejection::Heic)
        );
        assert_eq!(
            check_declared(&doc(None, Some("IMG_1.heic"))),
            Err(PhotoRejection::Heic)
        );
        assert_eq!(
            check_declared(&doc(Some("application/pdf"), Some("a.pdf"))),
            Err(PhotoRejection::UnsupportedFormat)
        );
        assert_eq!(check_declared(&doc(Some("image/png"), None)), Ok(()));
        assert_eq!(check_declared(&doc(None, Some("x.JPG"))), Ok(()));
        let mut big = doc(Some("image/jpeg"), None);
        big.declared_size = 21 * 1024 * 1024;
        assert_eq!(
            check_declared(&big),
            Err(PhotoRejection::TooLarge { max_mb: 20 })
        );
        let small = IncomingImage {
            origin: ImageOrigin::Photo {
                width: 320,
                height: 640,
            },
            ..doc(None, None)
        };
        assert!(matches!(
            check_declared(&small),
            Err(PhotoRejection::TooSmall { .. })
        ));
    }

    #[test]
    fn sniffing_refuses_what_is_not_an_image() {
        assert!(matches!(sniff(&[0u8; 10]), Sniff::NeedMore));
        assert!(matches!(
            sniff(b"%PDF-1.7 this is a document, not an image at all"),
            Sniff::Refused(_)
        ));
        // A PNG header claiming 600x700.
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&600u32.to_be_bytes());
        png.extend_from_slice(&700u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            sniff(&png),
            Sniff::Known((ImageFormat::Png, 600, 700))
        ));
    }
}
