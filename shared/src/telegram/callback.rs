//! Inline-button callback data: ids and choices only (never names or other user data), at
//! most 64 bytes as Telegram requires. Whatever a button claims is re-checked on arrival:
//! ownership by looking the avatar up under the caller, the step against the dialogue state.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::{
    AspectRatio, AvatarId, AvatarKind, Credits, Gender, GenerationId, ImageCount, Language, Pack,
    Preset,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The main menu.
    Menu,
    Help,
    /// Language picker, or a language picked.
    ChooseLanguage,
    SetLanguage(Language),
    /// Avatar creation: start, then kind, gender and preset.
    Create,
    Kind(AvatarKind),
    Gender(Gender),
    Preset(Preset),
    /// The avatar list, page `n` (0-based).
    Avatars(u16),
    /// An avatar's card.
    Card(AvatarId),
    /// Go on adding photos to a half-made avatar.
    Continue(AvatarId),
    /// The user confirms a person's photos may be used (they are theirs, or agreed, no child).
    Consent(AvatarId),
    /// Show the training summary; then confirm it.
    StartTraining(AvatarId),
    ConfirmTraining(AvatarId),
    /// Ask to delete; then confirm it.
    Delete(AvatarId),
    ConfirmDelete(AvatarId),
    /// Generation from the menu: pick the avatar (or go straight to the only one).
    ChooseForGeneration,
    /// Generation with a trained avatar: the style/prompt screen.
    Generate(AvatarId),
    /// A style preset, by its position in the avatar kind's list.
    Style(AvatarId, u8),
    /// The format/count screen, and a choice made on it.
    GenerationSettings(AvatarId),
    SetRatio(AvatarId, AspectRatio),
    SetCount(AvatarId, ImageCount),
    /// The same prompt and settings as an earlier generation.
    Again(AvatarId, GenerationId),
    /// Picture `n` (0-based) of a generation: offer to upscale it, then upscale it.
    Upscale(AvatarId, GenerationId, u8),
    ConfirmUpscale(AvatarId, GenerationId, u8),
    /// Redraw a photo of the user's as this avatar: ask for the photo; then a style for it.
    Restyle(AvatarId),
    RestyleStyle(AvatarId, u8),
    /// Redraw picture `n` (0-based) of one of the user's generations instead of a photo.
    RestylePicture(AvatarId, GenerationId, u8),
    /// The photo packs an avatar can run; one of them (by its place in the catalogue); run it
    /// (carrying the pack's fingerprint, so an edited catalogue never runs another pack).
    Packs(AvatarId),
    PackOffer(AvatarId, u8),
    RunPack(AvatarId, u8, u16),
    /// The privacy statement; "delete everything about me" asked, then confirmed.
    Privacy,
    ForgetMe,
    ConfirmForgetMe,
    /// The Balance screen, and a pack of credits to buy from it.
    Balance,
    Buy(Pack),
}

impl Callback {
    pub fn encode(self) -> String {
        match self {
            Callback::Menu => "m".into(),
            Callback::Help => "h".into(),
            Callback::ChooseLanguage => "lang".into(),
            Callback::SetLanguage(l) => format!("lang:{}", language_code(l)),
            Callback::Create => "c".into(),
            Callback::Kind(k) => format!("k:{}", k.as_str()),
            Callback::Gender(g) => format!("g:{}", g.as_str()),
            Callback::Preset(p) => format!("p:{}", p.as_str()),
            Callback::Avatars(page) => format!("l:{page}"),
            Callback::Card(id) => format!("a:{id}"),
            Callback::Continue(id) => format!("ct:{id}"),
            Callback::Consent(id) => format!("cs:{id}"),
            Callback::StartTraining(id) => format!("ts:{id}"),
            Callback::ConfirmTraining(id) => format!("tc:{id}"),
            Callback::Delete(id) => format!("d:{id}"),
            Callback::ConfirmDelete(id) => format!("dy:{id}"),
            Callback::ChooseForGeneration => "gp".into(),
            Callback::Generate(id) => format!("gen:{id}"),
            Callback::Style(id, i) => format!("gs:{id}:{i}"),
            Callback::GenerationSettings(id) => format!("go:{id}"),
            Callback::SetRatio(id, r) => format!("gr:{id}:{}", r.as_str().replace(':', "x")),
            Callback::SetCount(id, n) => format!("gn:{id}:{}", n.get()),
            Callback::Restyle(id) => format!("rs:{id}"),
            Callback::RestyleStyle(id, i) => format!("rt:{id}:{i}"),
            Callback::Packs(id) => format!("pk:{id}"),
            Callback::PackOffer(id, i) => format!("po:{id}:{i}"),
            Callback::RunPack(id, i, fingerprint) => format!("pr:{id}:{i}:{fingerprint}"),
            Callback::Privacy => "priv".into(),
            Callback::ForgetMe => "fm".into(),
            Callback::ConfirmForgetMe => "fmy".into(),
            Callback::Balance => "bal".into(),
            Callback::Buy(pack) => format!("buy:{}:{}", pack.credits, pack.stars),
            // Two hex ids and a tag would be 68 bytes; base64 of both keeps it at 46.
            Callback::Again(avatar, generation) => format!("ga:{}", both(avatar, generation)),
            Callback::Upscale(avatar, generation, n) => {
                format!("up:{}:{n}", both(avatar, generation))
            }
            Callback::ConfirmUpscale(avatar, generation, n) => {
                format!("uy:{}:{n}", both(avatar, generation))
            }
            Callback::RestylePicture(avatar, generation, n) => {
                format!("rp:{}:{n}", both(avatar, generation))
            }
        }
    }

    /// `None` for anything this bot did not produce (or no longer understands).
    pub fn parse(data: &str) -> Option<Self> {
        let (tag, arg) = match data.split_once(':') {
            Some((tag, arg)) => (tag, Some(arg)),
            None => (data, None),
        };
        let id = || arg.and_then(|a| a.parse::<AvatarId>().ok());
        // "<id>:<choice>"
        let id_and = || {
            let (id, choice) = arg?.split_once(':')?;
            Some((id.parse::<AvatarId>().ok()?, choice))
        };
        Some(match (tag, arg) {
            ("m", None) => Callback::Menu,
            ("h", None) => Callback::Help,
            ("lang", None) => Callback::ChooseLanguage,
            ("lang", Some("ru")) => Callback::SetLanguage(Language::Ru),
            ("lang", Some("en")) => Callback::SetLanguage(Language::En),
            ("c", None) => Callback::Create,
            ("k", Some(a)) => Callback::Kind(*AvatarKind::ALL.iter().find(|k| k.as_str() == a)?),
            ("g", Some(a)) => Callback::Gender(*Gender::ALL.iter().find(|g| g.as_str() == a)?),
            ("p", Some(a)) => Callback::Preset(*Preset::ALL.iter().find(|p| p.as_str() == a)?),
            ("l", Some(a)) => Callback::Avatars(a.parse().ok()?),
            ("a", Some(_)) => Callback::Card(id()?),
            ("ct", Some(_)) => Callback::Continue(id()?),
            ("cs", Some(_)) => Callback::Consent(id()?),
            ("ts", Some(_)) => Callback::StartTraining(id()?),
            ("tc", Some(_)) => Callback::ConfirmTraining(id()?),
            ("d", Some(_)) => Callback::Delete(id()?),
            ("dy", Some(_)) => Callback::ConfirmDelete(id()?),
            ("gp", None) => Callback::ChooseForGeneration,
            ("priv", None) => Callback::Privacy,
            ("fm", None) => Callback::ForgetMe,
            ("fmy", None) => Callback::ConfirmForgetMe,
            ("bal", None) => Callback::Balance,
            ("buy", Some(a)) => {
                let (credits, stars) = a.split_once(':')?;
                Callback::Buy(Pack {
                    credits: Credits(credits.parse().ok()?),
                    stars: stars.parse().ok()?,
                })
            }
            ("gen", Some(_)) => Callback::Generate(id()?),
            ("rs", Some(_)) => Callback::Restyle(id()?),
            ("rt", Some(_)) => {
                let (id, i) = id_and()?;
                let i: u8 = i.parse().ok()?;
                (i < 8).then_some(Callback::RestyleStyle(id, i))?
            }
            ("pk", Some(_)) => Callback::Packs(id()?),
            ("po", Some(_)) => {
                let (id, i) = id_and()?;
                Callback::PackOffer(id, i.parse().ok()?)
            }
            ("pr", Some(_)) => {
                let (id, rest) = id_and()?;
                let (i, fingerprint) = rest.split_once(':')?;
                Callback::RunPack(id, i.parse().ok()?, fingerprint.parse().ok()?)
            }
            ("go", Some(_)) => Callback::GenerationSettings(id()?),
            ("gs", Some(_)) => {
                let (id, i) = id_and()?;
                let i: u8 = i.parse().ok()?;
                (i < 8).then_some(Callback::Style(id, i))?
            }
            ("gr", Some(_)) => {
                let (id, r) = id_and()?;
                Callback::SetRatio(id, AspectRatio::parse(&r.replace('x', ":"))?)
            }
            ("gn", Some(_)) => {
                let (id, n) = id_and()?;
                Callback::SetCount(id, ImageCount::try_from(n.parse::<u8>().ok()?).ok()?)
            }
            ("ga", Some(a)) => {
                let (avatar, generation) = parse_both(a)?;
                Callback::Again(avatar, generation)
            }
            ("rp", Some(a)) => {
                let (ids, n) = a.split_once(':')?;
                let (avatar, generation) = parse_both(ids)?;
                Callback::RestylePicture(avatar, generation, n.parse().ok()?)
            }
            ("up" | "uy", Some(a)) => {
                let (ids, n) = a.split_once(':')?;
                let (avatar, generation) = parse_both(ids)?;
                let n: u8 = n.parse().ok()?;
                // At most four pictures to a generation.
                (n < 4).then_some(())?;
                match tag {
                    "up" => Callback::Upscale(avatar, generation, n),
                    _ => Callback::ConfirmUpscale(avatar, generation, n),
                }
            }
            _ => return None,
        })
    }
}

/// An avatar's and a generation's ids in 43 characters (base64 of their 32 bytes).
fn both(avatar: AvatarId, generation: GenerationId) -> String {
    let mut bytes = avatar.to_bytes().to_vec();
    bytes.extend(generation.to_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn parse_both(text: &str) -> Option<(AvatarId, GenerationId)> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (avatar, generation) = (bytes.get(..16)?, bytes.get(16..)?);
    Some((
        AvatarId::from_bytes(avatar.try_into().ok()?),
        GenerationId::from_bytes(generation.try_into().ok()?),
    ))
}

fn language_code(l: Language) -> &'static str {
    match l {
        Language::Ru => "ru",
        Language::En => "en",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_samples() -> Vec<Callback> {
        let id = AvatarId::new();
        let mut v = vec![
            Callback::Menu,
            Callback::Help,
            Callback::ChooseLanguage,
            Callback::SetLanguage(Language::Ru),
            Callback::SetLanguage(Language::En),
            Callback::Create,
            Callback::Avatars(0),
            Callback::Avatars(u16::MAX),
            Callback::Card(id),
            Callback::Continue(id),
            Callback::Consent(id),
            Callback::StartTraining(id),
            Callback::ConfirmTraining(id),
            Callback::Delete(id),
            Callback::ConfirmDelete(id),
            Callback::ChooseForGeneration,
            Callback::Generate(id),
            Callback::Style(id, 0),
            Callback::Style(id, 7),
            Callback::GenerationSettings(id),
            Callback::Again(id, GenerationId::new()),
            Callback::Upscale(id, GenerationId::new(), 0),
            Callback::ConfirmUpscale(id, GenerationId::new(), 3),
            Callback::Restyle(id),
            Callback::RestyleStyle(id, 7),
            Callback::RestylePicture(id, GenerationId::new(), 3),
            Callback::Packs(id),
            Callback::PackOffer(id, u8::MAX),
            Callback::RunPack(id, u8::MAX, u16::MAX),
            Callback::Privacy,
            Callback::ForgetMe,
            Callback::ConfirmForgetMe,
            Callback::Balance,
            Callback::Buy(Pack {
                credits: Credits(u64::MAX),
                stars: u32::MAX,
            }),
        ];
        v.extend(AspectRatio::ALL.map(|r| Callback::SetRatio(id, r)));
        v.extend(ImageCount::ALL.map(|n| Callback::SetCount(id, n)));
        v.extend(AvatarKind::ALL.map(Callback::Kind));
        v.extend(Gender::ALL.map(Callback::Gender));
        v.extend(Preset::ALL.map(Callback::Preset));
        v
    }

    #[test]
    fn every_callback_round_trips_within_64_bytes() {
        for cb in all_samples() {
            let data = cb.encode();
            assert!(data.len() <= 64, "{data} is {} bytes", data.len());
            assert_eq!(Callback::parse(&data), Some(cb), "{data}");
        }
    }

    #[test]
    fn foreign_or_damaged_data_is_refused() {
        for data in [
            "",
            "x",
            "a:",
            "a:not-an-id",
            "a:0123",
            "k:dog",
            "l:-1",
            "lang:de",
            "m:extra",
            "dy:../../etc",
            "gs:0123:1",
            "ga:AAAA",
            "up:AAAA:1",
            "rt:00000000000000000000000000000000:8",
            "uy:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:9",
            "gn:00000000000000000000000000000000:5",
            "gr:00000000000000000000000000000000:2x1",
            "buy:",
            "buy:5",
            "buy:-5:10",
            "bal:1",
        ] {
            assert_eq!(Callback::parse(data), None, "{data:?}");
        }
    }
}
