//! The job queue.

use super::*;

pub async fn queue_delivers_and_acknowledges(queue: &dyn JobQueue) {
    let id = queue
        .send(r#"{"job":"launch","n":1}"#, QueueDelay::NONE)
        .await
        .unwrap();
    let got = queue.receive(10, secs(5)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].message_id.as_str(),
            got[0].body.as_str(),
            got[0].receive_count
        ),
        (id.as_str(), r#"{"job":"launch","n":1}"#, 1)
    );
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "invisible while being processed"
    );
    queue.ack(&got[0].receipt).await.unwrap();
    assert!(
        queue.receive(10, secs(1)).await.unwrap().is_empty(),
        "gone once acknowledged"
    );
}

pub async fn queue_honours_delays(queue: &dyn JobQueue) {
    queue
        .send("later", QueueDelay::from_secs(2).unwrap())
        .await
        .unwrap();
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "not before its delay"
    );
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    while got.is_empty() && started.elapsed() < secs(15) {
        got = queue.receive(10, secs(1)).await.unwrap();
    }
    assert_eq!(got.first().map(|m| m.body.as_str()), Some("later"));
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "delivered after about 2 s, got {:?}",
        started.elapsed()
    );
    queue.ack(&got[0].receipt).await.unwrap();
}

pub async fn queue_redelivers_released_messages(queue: &dyn JobQueue) {
    queue.send("retry me", QueueDelay::NONE).await.unwrap();
    let first = queue.receive(1, secs(5)).await.unwrap();
    assert_eq!(first.len(), 1);
    queue
        .release(&first[0].receipt, QueueDelay::NONE)
        .await
        .unwrap();
    let second = queue.receive(1, secs(5)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].body.as_str(), second[0].receive_count),
        ("retry me", 2)
    );
    queue.ack(&second[0].receipt).await.unwrap();
}
