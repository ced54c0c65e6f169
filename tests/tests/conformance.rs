//! The port conformance suite against both backends: `embedded::*` (SQLite, local files) and
//! `aws::*` (DynamoDB, SQS, S3 in moto over HTTP, resources from template.yaml).

use fluxbot_tests::{backends, conformance as c};

macro_rules! conformance {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            async fn backend() -> backends::Backend {
                backends::$backend().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn users_are_versioned() {
                c::users_are_versioned(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn users_are_listed_page_by_page_and_noted_once() {
                c::users_are_listed_page_by_page_and_noted_once(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn forgetting_a_user_leaves_only_their_books() {
                c::forgetting_a_user_leaves_only_their_books(&backend().await.wired).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn avatars_are_versioned_and_owned() {
                c::avatars_are_versioned_and_owned(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_transitions_have_one_winner() {
                c::concurrent_transitions_have_one_winner(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn photos_are_deduplicated_and_bounded() {
                c::photos_are_deduplicated_and_bounded(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn an_album_arriving_at_once_is_counted_exactly() {
                c::an_album_arriving_at_once_is_counted_exactly(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn generations_are_versioned_and_listed_newest_first() {
                c::generations_are_versioned_and_listed_newest_first(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_generation_under_a_deleted_avatar_is_gone() {
                c::a_generation_under_a_deleted_avatar_is_gone(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_cause_commits_one_piece_of_work() {
                c::a_cause_commits_one_piece_of_work(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn deleting_an_avatar_removes_its_records() {
                c::deleting_an_avatar_removes_its_records(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn charges_never_pass_the_daily_cap() {
                c::charges_never_pass_the_daily_cap(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_charged_enqueue_is_all_or_nothing() {
                c::a_charged_enqueue_is_all_or_nothing(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn one_enqueue_per_launch_count() {
                c::one_enqueue_per_launch_count(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn one_generation_start_per_count() {
                c::one_generation_start_per_count(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn entries_apply_once_and_never_overdraw() {
                c::entries_apply_once_and_never_overdraw(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_debits_never_overspend() {
                c::concurrent_debits_never_overspend(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn one_purchase_per_charge_id() {
                c::one_purchase_per_charge_id(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_debited_enqueue_is_all_or_nothing() {
                c::a_debited_enqueue_is_all_or_nothing(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_generations_share_one_balance() {
                c::concurrent_generations_share_one_balance(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_pack_commits_all_its_pictures_or_none() {
                c::a_pack_commits_all_its_pictures_or_none(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn fal_requests_route_to_their_owner() {
                c::fal_requests_route_to_their_owner(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn update_ids_are_processed_once() {
                c::update_ids_are_processed_once(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn in_flight_index_holds_exactly_the_waiting_work() {
                c::in_flight_index_holds_exactly_the_waiting_work(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn queue_delivers_and_acknowledges() {
                c::queue_delivers_and_acknowledges(&*backend().await.launches).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn queue_honours_delays() {
                c::queue_honours_delays(&*backend().await.launches).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn queue_redelivers_released_messages() {
                c::queue_redelivers_released_messages(&*backend().await.launches).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn blobs_round_trip() {
                c::blobs_round_trip(&*backend().await.blobs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn delete_prefixes_removes_exactly_the_prefixes() {
                c::delete_prefixes_removes_exactly_the_prefixes(&*backend().await.blobs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn avatars_are_counted_by_status() {
                c::avatars_are_counted_by_status(&*backend().await.store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn delete_removes_one_object_idempotently() {
                c::delete_removes_one_object_idempotently(&*backend().await.blobs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_failed_upload_stores_nothing() {
                c::a_failed_upload_stores_nothing(&*backend().await.blobs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn presigned_urls_name_the_object() {
                c::presigned_urls_name_the_object(&*backend().await.blobs).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn zip_of_25_photos_unpacks_identically() {
                c::zip_of_25_photos_unpacks_identically(backend().await.blobs.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn a_zip_with_a_missing_source_stores_nothing() {
                c::a_zip_with_a_missing_source_stores_nothing(&*backend().await.blobs).await;
            }
        }
    };
}

conformance!(embedded);
conformance!(aws);
