//! Spool unit tests against a real redb file in a temporary directory.

use std::collections::HashSet;
use std::time::Duration;

use super::*;

async fn open(path: &Path, max_bytes: u64) -> (Spool, Metrics) {
    let metrics = Metrics::unregistered().expect("metrics");
    let spool = Spool::open(path, max_bytes, 1 << 20, metrics.clone())
        .await
        .expect("open");
    (spool, metrics)
}

#[tokio::test]
async fn batches_come_back_in_order_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/spool.redb");
    let stop = CancellationToken::new();
    {
        let (spool, metrics) = open(&path, 1 << 30).await;
        assert!(spool.is_empty());
        for i in 0..3 {
            let body = Bytes::from(format!("m v={i} {i}\n"));
            spool.push(body, 1, &stop).await.expect("push");
        }
        assert_eq!(spool.depth(), (3, 24, 3));
        assert_eq!(metrics.spool_points.get(), 3);
        assert_eq!(metrics.spool_bytes.get(), 24);
        let first = spool.oldest(&HashSet::new(), 1).await.expect("read");
        assert_eq!(first[0].1, Bytes::from("m v=0 0\n"));
        spool.remove(first[0].0).await.expect("remove");
    }
    // Reopened (as after a crash): the two remaining batches, in order, and new keys after them.
    let (spool, metrics) = open(&path, 1 << 30).await;
    assert_eq!(spool.depth(), (2, 16, 2));
    assert_eq!(metrics.spool_points.get(), 2);
    spool
        .push(Bytes::from("m v=3 3\n"), 1, &stop)
        .await
        .expect("push");
    let all = spool.oldest(&HashSet::new(), 10).await.expect("read");
    let bodies: Vec<_> = all.iter().map(|(_, b, _)| b.clone()).collect();
    assert_eq!(bodies, ["m v=1 1\n", "m v=2 2\n", "m v=3 3\n"]);
    let skip = HashSet::from([all[0].0]);
    assert_eq!(spool.oldest(&skip, 1).await.expect("read")[0].1, "m v=2 2\n");
    for (k, _, _) in all {
        spool.remove(k).await.expect("remove");
    }
    assert!(spool.is_empty());
    assert_eq!(metrics.spool_oldest_age.get(), 0.0);
}

#[tokio::test]
async fn a_full_spool_waits_for_room_and_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spool, metrics) = open(&dir.path().join("s.redb"), 10).await;
    let stop = CancellationToken::new();
    spool
        .push(Bytes::from("0123456789"), 1, &stop)
        .await
        .expect("first batch always fits");
    let pusher = {
        let (spool, stop) = (spool.clone(), stop.clone());
        tokio::spawn(async move { spool.push(Bytes::from("abc"), 1, &stop).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics.spool_full.get() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "push did not report full");
        tokio::task::yield_now().await;
    }
    assert!(!pusher.is_finished());
    let first = spool.oldest(&HashSet::new(), 1).await.expect("read");
    spool.remove(first[0].0).await.expect("remove");
    pusher.await.expect("join").expect("push after room");
    assert_eq!(spool.depth(), (1, 3, 1));

    // Shutdown releases a waiting pusher without storing its batch.
    stop.cancel();
    let stopped = spool.push(Bytes::from("0123456789"), 1, &stop).await;
    assert!(matches!(stopped, Err(SpoolError::Stopped)), "{stopped:?}");
    assert_eq!(spool.depth(), (1, 3, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_share_commits_and_all_survive_reopening() {
    const N: usize = 32;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spool.redb");
    let stop = CancellationToken::new();
    {
        let (spool, metrics) = open(&path, 1 << 30).await;
        let mut pushes = tokio::task::JoinSet::new();
        for i in 0..N {
            let (spool, stop) = (spool.clone(), stop.clone());
            pushes.spawn(async move { spool.push(Bytes::from(format!("m v={i} {i}\n")), 1, &stop).await });
        }
        while let Some(r) = pushes.join_next().await {
            r.expect("join").expect("push");
        }
        assert_eq!(spool.depth().2, N);
        let commits = metrics.spool_commits.get();
        assert!(
            (1..=N as u64).contains(&commits),
            "{commits} commits for {N} batches"
        );
    }
    // Every batch acknowledged as pushed is on disk, exactly once.
    let (spool, _) = open(&path, 1 << 30).await;
    let mut bodies: Vec<String> = spool
        .oldest(&HashSet::new(), 2 * N)
        .await
        .expect("read")
        .into_iter()
        .map(|(_, b, _)| String::from_utf8(b.to_vec()).expect("utf-8"))
        .collect();
    bodies.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("m v={i} {i}\n")).collect();
    want.sort();
    assert_eq!(bodies, want);
}
