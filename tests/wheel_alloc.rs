//! Checks that the timer wheel does not allocate in steady state: once its entry
//! storage has grown to the peak number of simultaneous timers, schedule / cancel /
//! expire / next_deadline allocate nothing. Own test binary, so its counting global
//! allocator cannot clash with other tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tressi::rate::wheel::TimerWheel;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts (per thread, so the test
// harness's own threads do not disturb the count).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn steady_state_does_not_allocate() {
    // The counter does count.
    let b0 = allocs();
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(8));
    assert!(allocs() > b0);
    drop(v);
    let mut w = TimerWheel::new(1_000_000, 1024);
    let n = 5_000;
    // Warm-up: reach the peak number of simultaneous timers once.
    let mut ids = Vec::with_capacity(n);
    for k in 0..n {
        ids.push(w.schedule(k as u64 * 1_000 + 10_000_000_000, k));
    }
    for id in ids.drain(..) {
        w.cancel(id);
    }
    let mut fired = Vec::with_capacity(n);
    let before = allocs();
    let mut now = 0u64;
    for round in 0..50u64 {
        for k in 0..n {
            // a mix of near and far (beyond one rotation) deadlines
            let d = now + (k as u64 % 7 + 1) * 400_000 + (round % 3) * 2_000_000_000;
            ids.push(w.schedule(d, k));
        }
        for id in ids.drain(..).step_by(2) {
            w.cancel(id);
        }
        ids.clear();
        now += 3_000_000_000;
        let _ = w.next_deadline();
        w.expire(now, |k| fired.push(k));
        while w.pop_expired(now).is_some() {}
        let _ = w.next_deadline();
        fired.clear();
    }
    assert!(w.is_empty());
    assert_eq!(allocs() - before, 0, "the wheel allocated in steady state");
}
