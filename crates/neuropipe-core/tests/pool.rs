//! Memory pools: leases return on every path, exhaustion, waiting, sharing.

use neuropipe_core::*;
use std::time::Duration;

#[test]
fn try_acquire_returns_none_when_exhausted_and_drop_returns() {
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 2, 4, 2);
    let a = pool.try_acquire().unwrap();
    let b = pool.try_acquire().unwrap();
    assert!(pool.try_acquire().is_none());
    assert_eq!(pool.in_use(), 2);
    drop(a);
    assert_eq!(pool.in_use(), 1);
    let c = pool.try_acquire().expect("returned buffer is reusable");
    drop((b, c));
    let s = pool.metrics().snapshot("p");
    assert_eq!(
        (s.in_use, s.high_water, s.acquired, s.exhaustions),
        (0, 2, 3, 1)
    );
}

#[test]
fn acquired_packets_have_the_pool_shape_and_a_clean_header() {
    let pool = MemoryPool::<RawEegPacket>::new("p", 1, 16, 8);
    let mut p = pool.try_acquire().unwrap();
    p.header.sequence = 99;
    p.header.flags = FLAG_DISCONTINUITY;
    drop(p);
    let p = pool.try_acquire().unwrap();
    assert_eq!(p.header.sequence, 0);
    assert_eq!(p.header.flags, 0);
    assert_eq!((p.header.frames(), p.header.channels), (16, 8));
    assert_eq!(p.samples().len(), 128);
}

#[test]
fn set_shape_rejects_what_does_not_fit() {
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 1, 4, 2);
    let mut p = pool.try_acquire().unwrap();
    assert!(p.set_shape(2, 4).is_ok());
    assert_eq!(
        p.set_shape(5, 2),
        Err(StageError::fatal(
            "packet of 5 frames x 2 channels does not fit its pool buffer of 8 samples"
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_waits_without_spinning_until_a_packet_returns() {
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 1, 4, 2);
    let held = pool.try_acquire().unwrap();
    let p2 = pool.clone();
    let waiter = tokio::spawn(async move { p2.acquire().await.header.batch_size });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "waits while the pool is empty");
    drop(held);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap(),
        4
    );
    assert_eq!(pool.metrics().snapshot("p").waits, 1);
}

#[test]
fn packets_return_when_a_panic_unwinds_through_their_owner() {
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 2, 4, 2);
    let p2 = pool.clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _a = p2.try_acquire().unwrap();
        let _b = p2.try_acquire().unwrap();
        panic!("boom");
    }));
    assert!(r.is_err());
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn packets_return_when_sent_across_threads_and_dropped_there() {
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 8, 4, 2);
    let packets: Vec<_> = (0..8).map(|_| pool.try_acquire().unwrap()).collect();
    std::thread::spawn(move || drop(packets)).join().unwrap();
    assert_eq!(pool.in_use(), 0);
}

#[tokio::test]
async fn make_mut_copies_a_shared_packet() {
    // Sharing is only done by the runtime's fan-out; observe it through a pipeline-less path:
    // a unique packet is mutable in place without a copy.
    let pool = MemoryPool::<VoltageEegPacket>::new("p", 2, 4, 1);
    let mut p = pool.try_acquire().unwrap();
    assert!(!p.is_shared());
    p.samples_mut()[0] = 7.0;
    let d = p.make_mut().await;
    d.samples_mut()[1] = 8.0;
    assert_eq!(&p.samples()[..2], &[7.0, 8.0]);
    assert_eq!(pool.in_use(), 1, "no copy for a unique packet");
}
