//! Hashed timer wheel of `usize` keys (slab keys of connections, or any id the caller
//! picks): connect and response timeouts, reconnect back-off, bucket wake-ups.
//!
//! Pure: time is always an argument (ns since the caller's origin); this module never
//! reads a clock, never does I/O, and never allocates once its entry storage has grown
//! to the peak number of simultaneous timers (entries live in a `Vec` with a free list;
//! per-slot lists are intrusive and doubly linked by index; the slot heads and the
//! bitmap of non-empty slots are allocated once in `new`).
//!
//! How it works:
//! - A deadline `d` belongs to tick `d / tick_ns` and to slot `tick & mask`. Deadlines
//!   more than one rotation ahead share the slot with nearer ones; each entry keeps its
//!   exact deadline and only fires once `deadline <= now` (never early).
//! - `cur` is the tick of the last `expire`. A deadline whose tick is already behind
//!   `cur` goes into slot `cur`, which the next `expire` scans first.
//! - `expire(now)` scans the non-empty slots (bitmap) for ticks `cur..=now/tick_ns`, at
//!   most one rotation of slots however long the gap was, moving due entries to a FIFO
//!   "due" list, then pops them. Entries stay pending (and cancellable) until popped.
//! - `next_deadline` keeps a cached lower bound of the earliest pending deadline: a
//!   schedule lowers it, a cancel leaves it (still a lower bound: at worst one early
//!   wake-up), an `expire` that found nothing due (`bound > now`) skips the scan
//!   entirely (the common case, O(1)), and after a scan it is recomputed lazily from
//!   per-slot lower bounds (`slot_min`, made exact whenever a slot is scanned) walking
//!   the bitmap in tick order and stopping as soon as no later slot can beat the best.
//!
//! Re-scheduling from a callback: `expire` takes `FnMut(usize)` and cannot lend the
//! wheel to it; either collect keys into a reusable `Vec` and schedule afterwards, or
//! loop on `pop_expired(now)`, which lends nothing and lets the caller schedule between
//! pops. (A timer scheduled with a deadline `<= now` inside such a loop is due at once,
//! so a loop that always re-schedules in the past never ends: that is the caller's bug.)

use std::cell::Cell;

const NIL: usize = usize::MAX;

/// Handle of one scheduled timer: entry index + generation, so cancelling a timer that
/// already fired (or was cancelled, its entry reused) is harmless and returns `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    index: u32,
    gen: u32,
}

/// Where an entry lives: one state enum per entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// On the free list (`next` links free entries).
    Free,
    /// In the list of wheel slot `n`.
    Slot(u32),
    /// In the due list: deadline reached, waiting to be popped.
    Due,
}

#[derive(Clone, Debug)]
struct Entry {
    deadline: u64,
    key: usize,
    prev: usize,
    next: usize,
    gen: u32,
    place: Place,
}

/// The cached lower bound for `next_deadline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// Must be recomputed (after a scan that fired something).
    Unknown,
    /// Every pending deadline is `>=` this (u64::MAX when empty).
    AtLeast(u64),
}

/// A hashed timer wheel; see the module docs.
pub struct TimerWheel {
    tick_ns: u64,
    mask: usize,
    /// Tick of the last `expire` (all slots of earlier ticks have been scanned).
    cur: u64,
    entries: Vec<Entry>,
    free_head: usize,
    heads: Vec<usize>,
    /// Lower bound of the deadlines in each slot (u64::MAX when empty).
    slot_min: Vec<u64>,
    /// Bit `s` set when slot `s` is non-empty.
    bitmap: Vec<u64>,
    due_head: usize,
    due_tail: usize,
    due_min: u64,
    len: usize,
    bound: Cell<Bound>,
}

impl TimerWheel {
    /// A wheel of `slots` (rounded up to a power of two, at least 1) slots of `tick_ns`
    /// (at least 1) ns each; one rotation is `slots * tick_ns`.
    pub fn new(tick_ns: u64, slots: usize) -> Self {
        let slots = slots.max(1).checked_next_power_of_two().unwrap_or(1 << 20);
        TimerWheel {
            tick_ns: tick_ns.max(1),
            mask: slots - 1,
            cur: 0,
            entries: Vec::new(),
            free_head: NIL,
            heads: vec![NIL; slots],
            slot_min: vec![u64::MAX; slots],
            bitmap: vec![0; slots.div_ceil(64)],
            due_head: NIL,
            due_tail: NIL,
            due_min: u64::MAX,
            len: 0,
            bound: Cell::new(Bound::AtLeast(u64::MAX)),
        }
    }

    /// Number of pending timers (scheduled, not yet fired nor cancelled).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `key` to fire at the first `expire(now)` with `now >= deadline_ns`
    /// (a deadline in the past fires at the next `expire`). O(1); allocates only when
    /// more timers are pending at once than ever before.
    pub fn schedule(&mut self, deadline_ns: u64, key: usize) -> TimerId {
        let index = if self.free_head != NIL {
            let i = self.free_head;
            self.free_head = self.entries[i].next;
            i
        } else {
            self.entries.push(Entry {
                deadline: 0,
                key: 0,
                prev: NIL,
                next: NIL,
                gen: 0,
                place: Place::Free,
            });
            self.entries.len() - 1
        };
        let tick = (deadline_ns / self.tick_ns).max(self.cur);
        let slot = (tick as usize) & self.mask;
        let e = &mut self.entries[index];
        e.deadline = deadline_ns;
        e.key = key;
        let gen = e.gen;
        self.link_slot(index, slot);
        self.len += 1;
        if let Bound::AtLeast(b) = self.bound.get() {
            self.bound.set(Bound::AtLeast(b.min(deadline_ns)));
        }
        TimerId {
            index: index as u32,
            gen,
        }
    }

    /// Cancels a pending timer. Returns `false` (and touches nothing) when the id is
    /// stale: the timer already fired or was cancelled. O(1).
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let i = id.index as usize;
        let Some(e) = self.entries.get(i) else {
            return false;
        };
        if e.gen != id.gen {
            return false;
        }
        match e.place {
            Place::Free => return false,
            Place::Slot(s) => self.unlink_slot(i, s as usize),
            Place::Due => self.unlink_due(i),
        }
        self.release(i);
        true
    }

    /// Calls `f(key)` once for every pending timer with `deadline <= now_ns`, in slot
    /// order (roughly deadline order), and forgets them. Never fires a timer early.
    /// `f` cannot touch the wheel: collect keys and re-schedule afterwards, or use
    /// `pop_expired`.
    pub fn expire(&mut self, now_ns: u64, mut f: impl FnMut(usize)) {
        self.collect(now_ns);
        while let Some(key) = self.pop_due() {
            f(key);
        }
    }

    /// Pops one timer with `deadline <= now_ns`, or `None` when none is due. Lends
    /// nothing, so the caller may schedule between pops.
    pub fn pop_expired(&mut self, now_ns: u64) -> Option<usize> {
        if self.due_head == NIL {
            self.collect(now_ns);
        }
        self.pop_due()
    }

    /// A time `<=` the earliest pending deadline (exact unless timers were cancelled
    /// since the last scan, then possibly earlier); `None` when empty. Amortised O(1):
    /// recomputed (a bitmap walk over at most one rotation) only after an `expire`
    /// that found something due.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if let Bound::AtLeast(b) = self.bound.get() {
            return Some(b);
        }
        let mut best = if self.due_head != NIL {
            self.due_min
        } else {
            u64::MAX
        };
        let slots = self.mask + 1;
        let start = (self.cur as usize) & self.mask;
        let mut off = 0;
        while off < slots {
            let Some(o) = self.next_set_from(start, off, slots) else {
                break;
            };
            let tick_start = (self.cur + o as u64).saturating_mul(self.tick_ns);
            // Every entry of slot at offset o > 0 has a deadline >= its tick start.
            if o > 0 && tick_start >= best {
                break;
            }
            best = best.min(self.slot_min[(start + o) & self.mask]);
            off = o + 1;
        }
        self.bound.set(Bound::AtLeast(best));
        Some(best)
    }

    // ---- internals ----

    /// Moves every entry with `deadline <= now` to the due list and advances `cur`.
    fn collect(&mut self, now: u64) {
        let now_tick = (now / self.tick_ns).max(self.cur);
        if let Bound::AtLeast(b) = self.bound.get() {
            if b > now {
                // Nothing is due: skip the scan. Every pending entry has a tick
                // >= now_tick, so advancing `cur` keeps the slot invariant.
                self.cur = now_tick;
                return;
            }
        }
        let slots = self.mask + 1;
        let span = (now_tick - self.cur).saturating_add(1).min(slots as u64) as usize;
        let start = (self.cur as usize) & self.mask;
        let mut off = 0;
        while off < span {
            let Some(o) = self.next_set_from(start, off, span) else {
                break;
            };
            self.scan_slot((start + o) & self.mask, now);
            off = o + 1;
        }
        self.cur = now_tick;
        self.bound.set(Bound::Unknown);
    }

    /// Moves the due entries of slot `s` to the due list; makes `slot_min[s]` exact.
    fn scan_slot(&mut self, s: usize, now: u64) {
        let mut i = self.heads[s];
        let mut min = u64::MAX;
        while i != NIL {
            let next = self.entries[i].next;
            let d = self.entries[i].deadline;
            if d <= now {
                self.unlink_slot(i, s);
                self.push_due(i);
            } else {
                min = min.min(d);
            }
            i = next;
        }
        self.slot_min[s] = min;
    }

    /// First offset `o` in `from..limit` (limit <= slots) such that slot
    /// `(start + o) & mask` is non-empty, using the bitmap a word at a time.
    fn next_set_from(&self, start: usize, from: usize, limit: usize) -> Option<usize> {
        let mut off = from;
        while off < limit {
            let s = (start + off) & self.mask;
            let word = self.bitmap[s / 64] >> (s % 64);
            if word != 0 {
                let o = off + word.trailing_zeros() as usize;
                // Bits of one word never wrap past the end of the wheel.
                return (o < limit).then_some(o);
            }
            // Skip to the next word boundary (or to the wrap point).
            let to_word_end = 64 - s % 64;
            let to_wrap = self.mask + 1 - s;
            off += to_word_end.min(to_wrap);
        }
        None
    }

    fn link_slot(&mut self, i: usize, s: usize) {
        let head = self.heads[s];
        {
            let e = &mut self.entries[i];
            e.prev = NIL;
            e.next = head;
            e.place = Place::Slot(s as u32);
        }
        if head != NIL {
            self.entries[head].prev = i;
        }
        self.heads[s] = i;
        self.bitmap[s / 64] |= 1 << (s % 64);
        let d = self.entries[i].deadline;
        self.slot_min[s] = self.slot_min[s].min(d);
    }

    fn unlink_slot(&mut self, i: usize, s: usize) {
        let (prev, next) = (self.entries[i].prev, self.entries[i].next);
        if prev != NIL {
            self.entries[prev].next = next;
        } else {
            self.heads[s] = next;
        }
        if next != NIL {
            self.entries[next].prev = prev;
        }
        if self.heads[s] == NIL {
            self.bitmap[s / 64] &= !(1 << (s % 64));
            self.slot_min[s] = u64::MAX;
        }
    }

    fn push_due(&mut self, i: usize) {
        let tail = self.due_tail;
        {
            let e = &mut self.entries[i];
            e.prev = tail;
            e.next = NIL;
            e.place = Place::Due;
        }
        if tail != NIL {
            self.entries[tail].next = i;
        } else {
            self.due_head = i;
        }
        self.due_tail = i;
        self.due_min = self.due_min.min(self.entries[i].deadline);
    }

    fn unlink_due(&mut self, i: usize) {
        let (prev, next) = (self.entries[i].prev, self.entries[i].next);
        if prev != NIL {
            self.entries[prev].next = next;
        } else {
            self.due_head = next;
        }
        if next != NIL {
            self.entries[next].prev = prev;
        } else {
            self.due_tail = prev;
        }
        if self.due_head == NIL {
            self.due_min = u64::MAX;
        }
    }

    fn pop_due(&mut self) -> Option<usize> {
        let i = self.due_head;
        if i == NIL {
            return None;
        }
        self.unlink_due(i);
        let key = self.entries[i].key;
        self.release(i);
        Some(key)
    }

    /// Returns entry `i` (already unlinked) to the free list, bumping its generation.
    fn release(&mut self, i: usize) {
        let free = self.free_head;
        let e = &mut self.entries[i];
        e.gen = e.gen.wrapping_add(1);
        e.place = Place::Free;
        e.prev = NIL;
        e.next = free;
        self.free_head = i;
        self.len -= 1;
        if self.len == 0 {
            self.bound.set(Bound::AtLeast(u64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn fired(w: &mut TimerWheel, now: u64) -> Vec<usize> {
        let mut v = Vec::new();
        w.expire(now, |k| v.push(k));
        v.sort_unstable();
        v
    }

    #[test]
    fn slots_round_up_to_power_of_two() {
        let w = TimerWheel::new(10, 100);
        assert_eq!(w.mask + 1, 128);
        let w = TimerWheel::new(0, 0);
        assert_eq!(w.mask + 1, 1);
        assert_eq!(w.tick_ns, 1);
    }

    #[test]
    fn fires_exactly_at_deadline_never_early() {
        let mut w = TimerWheel::new(10, 8);
        w.schedule(35, 1);
        for now in 0..35 {
            assert!(fired(&mut w, now).is_empty(), "early at {now}");
        }
        assert_eq!(fired(&mut w, 35), vec![1]);
        assert!(fired(&mut w, 36).is_empty());
        assert!(w.is_empty());
    }

    #[test]
    fn past_deadline_fires_at_next_expire() {
        let mut w = TimerWheel::new(10, 8);
        assert!(fired(&mut w, 1000).is_empty());
        w.schedule(5, 7);
        w.schedule(999, 8);
        assert_eq!(w.next_deadline(), Some(5));
        assert_eq!(fired(&mut w, 1000), vec![7, 8]);
    }

    #[test]
    fn cancel_and_stale_cancel() {
        let mut w = TimerWheel::new(10, 8);
        let a = w.schedule(50, 1);
        let b = w.schedule(50, 2);
        assert!(w.cancel(a));
        assert!(!w.cancel(a), "double cancel");
        assert_eq!(w.len(), 1);
        // Reuse a's entry: the stale id must not cancel the new timer.
        let c = w.schedule(60, 3);
        assert_eq!(c.index, a.index);
        assert!(!w.cancel(a));
        assert_eq!(fired(&mut w, 100), vec![2, 3]);
        assert!(!w.cancel(b), "already fired");
        assert!(!w.cancel(c));
        assert!(!w.cancel(TimerId { index: 999, gen: 0 }));
    }

    #[test]
    fn cancel_due_but_not_popped() {
        let mut w = TimerWheel::new(10, 8);
        let a = w.schedule(5, 1);
        let _b = w.schedule(6, 2);
        // pop one, then cancel the other while it sits in the due list
        let first = w.pop_expired(10);
        assert!(first == Some(1) || first == Some(2));
        let other = if first == Some(1) { _b } else { a };
        assert!(w.cancel(other));
        assert_eq!(w.pop_expired(10), None);
        assert!(w.is_empty());
    }

    #[test]
    fn many_timers_in_one_slot() {
        let mut w = TimerWheel::new(100, 4);
        for k in 0..1000 {
            // all in tick 3, spread over its 100 ns
            w.schedule(300 + (k as u64 % 100), k);
        }
        assert_eq!(w.next_deadline(), Some(300));
        assert_eq!(fired(&mut w, 349).len(), 500);
        assert_eq!(fired(&mut w, 399).len(), 500);
        assert!(w.is_empty());
    }

    #[test]
    fn deadlines_far_beyond_a_rotation() {
        // rotation = 8 * 10 = 80 ns
        let mut w = TimerWheel::new(10, 8);
        w.schedule(15, 1);
        w.schedule(15 + 80, 2);
        w.schedule(15 + 800, 3);
        let mut now = 0;
        let mut when = BTreeMap::new();
        while now <= 1000 {
            w.expire(now, |k| {
                when.insert(k, now);
            });
            now += 5;
        }
        assert_eq!(when.get(&1), Some(&15));
        assert_eq!(when.get(&2), Some(&95));
        assert_eq!(when.get(&3), Some(&815));
    }

    #[test]
    fn catch_up_over_big_gaps() {
        let mut w = TimerWheel::new(10, 8);
        for k in 0..100 {
            w.schedule(k as u64 * 37, k);
        }
        // A gap of many rotations fires everything due, nothing else.
        let v = fired(&mut w, 37 * 50);
        assert_eq!(v, (0..=50).collect::<Vec<_>>());
        // A gap smaller than a rotation but spanning several slots.
        let v = fired(&mut w, 37 * 51 + 36);
        assert_eq!(v, vec![51]);
        let v = fired(&mut w, u64::MAX / 2);
        assert_eq!(v, (52..100).collect::<Vec<_>>());
    }

    #[test]
    fn next_deadline_tracks_earliest() {
        let mut w = TimerWheel::new(10, 16);
        assert_eq!(w.next_deadline(), None);
        w.schedule(500, 1);
        assert_eq!(w.next_deadline(), Some(500));
        w.schedule(123, 2);
        assert_eq!(w.next_deadline(), Some(123));
        assert_eq!(fired(&mut w, 200), vec![2]);
        assert_eq!(w.next_deadline(), Some(500));
        w.schedule(10_000, 3); // far rotation
        assert_eq!(fired(&mut w, 500), vec![1]);
        assert_eq!(w.next_deadline(), Some(10_000));
        let id = w.schedule(700, 4);
        w.cancel(id);
        // after a cancel: still a lower bound, never later than the earliest
        let nd = w.next_deadline().unwrap_or(u64::MAX);
        assert!(nd <= 10_000);
        assert!(fired(&mut w, nd.min(9_999)).is_empty());
        assert_eq!(w.next_deadline(), Some(10_000));
        assert_eq!(fired(&mut w, 10_000), vec![3]);
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn same_key_twice_fires_twice() {
        let mut w = TimerWheel::new(10, 8);
        let a = w.schedule(20, 5);
        let b = w.schedule(40, 5);
        assert_ne!(a, b);
        assert_eq!(fired(&mut w, 20), vec![5]);
        assert!(w.cancel(b));
        assert!(fired(&mut w, 100).is_empty());
    }

    #[test]
    fn pop_expired_allows_rescheduling() {
        let mut w = TimerWheel::new(10, 8);
        w.schedule(10, 1);
        w.schedule(20, 2);
        let mut seen = Vec::new();
        while let Some(k) = w.pop_expired(25) {
            seen.push(k);
            if k == 1 {
                w.schedule(30, 11);
            }
        }
        assert_eq!(seen, vec![1, 2]);
        assert_eq!(w.next_deadline(), Some(30));
        assert_eq!(w.pop_expired(30), Some(11));
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn randomized_against_btreemap() {
        for seed in 1..=20u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let tick = 1 + rng.below(50);
            let slots = 1 + rng.below(64) as usize;
            let mut w = TimerWheel::new(tick, slots);
            // reference: (deadline, serial) -> key; ids by serial
            let mut model: BTreeMap<(u64, u64), usize> = BTreeMap::new();
            let mut ids: Vec<(TimerId, u64, u64)> = Vec::new();
            let mut now = 0u64;
            let mut serial = 0u64;
            for _ in 0..3000 {
                match rng.below(10) {
                    0..=4 => {
                        let span = [10, tick * 4, tick * slots as u64 * 5][rng.below(3) as usize];
                        let d = (now + rng.below(span.max(1))).saturating_sub(rng.below(3) * tick);
                        let key = rng.below(100) as usize;
                        let id = w.schedule(d, key);
                        model.insert((d, serial), key);
                        ids.push((id, d, serial));
                        serial += 1;
                    }
                    5 if !ids.is_empty() => {
                        let j = rng.below(ids.len() as u64) as usize;
                        let (id, d, s) = ids.swap_remove(j);
                        let expect = model.remove(&(d, s)).is_some();
                        assert_eq!(w.cancel(id), expect);
                    }
                    _ => {
                        // next_deadline: never later than the earliest pending.
                        if let Some((&(d, _), _)) = model.iter().next() {
                            let nd = w.next_deadline().unwrap_or(u64::MAX);
                            assert!(nd <= d, "next_deadline {nd} > earliest {d}");
                        } else {
                            assert_eq!(w.next_deadline(), None);
                        }
                        now += [1, tick, tick * 3, tick * slots as u64 * 3][rng.below(4) as usize];
                        let mut got = Vec::new();
                        w.expire(now, |k| got.push(k));
                        let mut want = Vec::new();
                        while let Some((&(d, s), &k)) = model.iter().next() {
                            if d > now {
                                break;
                            }
                            model.remove(&(d, s));
                            want.push(k);
                        }
                        got.sort_unstable();
                        want.sort_unstable();
                        assert_eq!(got, want, "seed {seed} now {now}");
                        // No busy loop: right after an expire, the next wake-up is
                        // in the future (stale bounds from cancels are refreshed).
                        if let Some(nd) = w.next_deadline() {
                            assert!(nd > now, "next_deadline {nd} <= now {now}");
                        }
                    }
                }
                assert_eq!(w.len(), model.len());
            }
        }
    }
}
