//! The failure windows the per-IP sign-in throttles count in: two nodes counting at once
//! lose no failure, a window ends after its length, and keys count apart.

use certmail_store_pg::pg_harness::PgServer;

const NOW: i64 = 1_800_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_counted_on_two_nodes_at_once_all_count() {
    let (a, b) = PgServer::two_nodes().await;
    let key = "sign-in 192.0.2.7";
    for _ in 0..25 {
        let (x, y) = tokio::join!(a.add_failure(key, NOW, 300), b.add_failure(key, NOW, 300));
        x.expect("count on A");
        y.expect("count on B");
    }
    assert_eq!(
        b.failure_window(key, NOW + 2, 300).await.unwrap(),
        Some((NOW, 50))
    );
    assert_eq!(
        a.failure_window("sign-in 192.0.2.8", NOW, 300)
            .await
            .unwrap(),
        None
    );

    // The window ends 300 s after it began: nothing open, and the next failure starts anew.
    assert_eq!(a.failure_window(key, NOW + 300, 300).await.unwrap(), None);
    assert_eq!(
        a.add_failure(key, NOW + 301, 300).await.unwrap(),
        (NOW + 301, 1)
    );
}
