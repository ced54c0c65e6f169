//! The kinds of paid work the engine runs: the one place that names them. A new kind is a
//! `WorkKind` variant, a module implementing `engine::PaidKind`, and a line here.

use super::engine::Driver;
use super::first_look::FirstLooks;
use super::generation::Generations;
use super::photo_pack::PhotoPacks;
use super::restyle::Restyles;
use super::training::Trainings;
use super::upscale::Upscales;
use crate::domain::WorkKind;

pub(crate) fn driver(kind: WorkKind) -> &'static dyn Driver {
    match kind {
        WorkKind::Training => &Trainings,
        WorkKind::Generation => &Generations,
        WorkKind::Upscale => &Upscales,
        WorkKind::Restyle => &Restyles,
        WorkKind::PhotoPack => &PhotoPacks,
        WorkKind::FirstLook => &FirstLooks,
    }
}
