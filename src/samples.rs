//! Sample responses: the first response of each endpoint × status code, bounded — its
//! head (status line and fields) and the first `--sample-size` bytes of its body.
//!
//! Owns one worker's store (a bitmap per endpoint of the statuses already sampled, and the
//! samples) and the merge across workers (the earliest of each pair wins). Must not: read a
//! clock (times are arguments), touch a socket, or allocate in steady state — the check per
//! response is one bitmap test; memory is only allocated when a status is seen for the
//! first time, and is bounded: at most `MAX_PER_ENDPOINT` samples per endpoint, each at
//! most `MAX_HEAD` + `sample_size` bytes.

use crate::stats::Sample;

/// Default `--sample-size`, bytes.
pub const DEFAULT_SAMPLE_SIZE: usize = 4096;
/// Largest `--sample-size`.
pub const MAX_SAMPLE_SIZE: usize = 64 << 20;
/// Most distinct status codes sampled per endpoint (a hostile server could send hundreds).
pub const MAX_PER_ENDPOINT: usize = 64;
/// Most bytes of a head kept in a sample (heads may be up to 64 KiB).
pub const MAX_HEAD: usize = 8 * 1024;

/// Words of the per-endpoint status bitmap (codes 0..1024).
const WORDS: usize = 16;

/// One captured (or being captured) response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Captured {
    endpoint: u32,
    status: u16,
    /// When its head arrived (ns since the run's origin): the earliest wins the merge.
    at_ns: u64,
    head: Vec<u8>,
    /// The head was longer than `MAX_HEAD`.
    head_cut: bool,
    body: Vec<u8>,
    truncated: bool,
    /// Its response completed (an aborted one is free for reuse).
    complete: bool,
    live: bool,
}

/// One worker's samples.
#[derive(Debug, Clone)]
pub struct SampleStore {
    sample_size: usize,
    /// Per endpoint: statuses sampled or being sampled.
    seen: Vec<[u64; WORDS]>,
    /// Per endpoint: samples taken or in progress.
    taken: Vec<u16>,
    items: Vec<Captured>,
    /// Indices in `items` of aborted captures, reused first.
    free: Vec<u32>,
}

impl SampleStore {
    pub fn new(endpoints: usize, sample_size: usize) -> SampleStore {
        SampleStore {
            sample_size,
            seen: vec![[0; WORDS]; endpoints.max(1)],
            taken: vec![0; endpoints.max(1)],
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    pub fn sample_size(&self) -> usize {
        self.sample_size
    }

    /// True when a response of `endpoint` with `status` should be sampled: nothing of
    /// that pair yet and room left. One bitmap test: this is the per-response cost.
    #[inline]
    pub fn wants(&self, endpoint: usize, status: u16) -> bool {
        let s = usize::from(status);
        match self.seen.get(endpoint) {
            Some(bits) if s < WORDS * 64 => {
                bits[s / 64] & (1 << (s % 64)) == 0
                    && usize::from(self.taken[endpoint]) < MAX_PER_ENDPOINT
            }
            _ => false,
        }
    }

    /// Starts a sample of `endpoint`/`status` with its head; returns its handle, or `None`
    /// when it is not wanted.
    pub fn begin(&mut self, endpoint: usize, status: u16, head: &[u8], now_ns: u64) -> Option<u32> {
        if !self.wants(endpoint, status) {
            return None;
        }
        let s = usize::from(status);
        self.seen[endpoint][s / 64] |= 1 << (s % 64);
        self.taken[endpoint] += 1;
        let keep = head.len().min(MAX_HEAD);
        let item = Captured {
            endpoint: endpoint as u32,
            status,
            at_ns: now_ns,
            head: head[..keep].to_vec(),
            head_cut: keep < head.len(),
            body: Vec::new(),
            truncated: false,
            complete: false,
            live: true,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = item;
                i
            }
            None => {
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        };
        Some(idx)
    }

    /// Body bytes of the response being sampled as `idx`: kept up to the sample size,
    /// the rest only marks the sample truncated.
    #[inline]
    pub fn append(&mut self, idx: u32, data: &[u8]) {
        let size = self.sample_size;
        let Some(item) = self.items.get_mut(idx as usize) else {
            return;
        };
        let room = size.saturating_sub(item.body.len());
        let keep = room.min(data.len());
        if keep > 0 {
            if item.body.capacity() == 0 {
                item.body.reserve_exact(size.min(64 * 1024));
            }
            item.body.extend_from_slice(&data[..keep]);
        }
        if keep < data.len() {
            item.truncated = true;
        }
    }

    /// The sampled response completed and was counted.
    pub fn finish(&mut self, idx: u32) {
        if let Some(item) = self.items.get_mut(idx as usize) {
            item.complete = true;
        }
    }

    /// The sampled response did not complete (an error, a timeout, the stop): forget it,
    /// so a later response of that status is sampled instead.
    pub fn abort(&mut self, idx: u32) {
        let Some(item) = self.items.get_mut(idx as usize) else {
            return;
        };
        if !item.live || item.complete {
            return;
        }
        let (e, s) = (item.endpoint as usize, usize::from(item.status));
        item.live = false;
        item.head = Vec::new();
        item.body = Vec::new();
        if let Some(bits) = self.seen.get_mut(e) {
            bits[s / 64] &= !(1 << (s % 64));
            self.taken[e] = self.taken[e].saturating_sub(1);
        }
        self.free.push(idx);
    }

    /// Adds another worker's completed samples: of each endpoint and status, the earliest
    /// is kept.
    pub fn merge(&mut self, other: &SampleStore) {
        if self.seen.len() < other.seen.len() {
            self.seen.resize(other.seen.len(), [0; WORDS]);
            self.taken.resize(other.taken.len(), 0);
        }
        for theirs in other.items.iter().filter(|c| c.live && c.complete) {
            let mine = self.items.iter_mut().find(|c| {
                c.live && c.complete && c.endpoint == theirs.endpoint && c.status == theirs.status
            });
            match mine {
                Some(m) if m.at_ns <= theirs.at_ns => {}
                Some(m) => *m = theirs.clone(),
                None => self.items.push(theirs.clone()),
            }
        }
    }

    /// Bytes held by the samples' heads and bodies (for tests and accounting).
    pub fn stored_bytes(&self) -> usize {
        self.items
            .iter()
            .map(|c| c.head.capacity() + c.body.capacity())
            .sum()
    }

    /// The completed samples of `endpoint`, by status, as the summary shows them.
    pub fn samples_of(&self, endpoint: usize) -> Vec<Sample> {
        let mut v: Vec<&Captured> = self
            .items
            .iter()
            .filter(|c| c.live && c.complete && c.endpoint as usize == endpoint)
            .collect();
        v.sort_by_key(|c| c.status);
        v.into_iter().map(to_sample).collect()
    }
}

/// Lossy UTF-8; the head's lines joined by `\n` without the final empty line.
fn to_sample(c: &Captured) -> Sample {
    let head = String::from_utf8_lossy(&c.head);
    let mut lines: Vec<&str> = head
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut head = lines.join("\n");
    if c.head_cut {
        head.push_str("\n…");
    }
    Sample {
        status: c.status,
        head,
        body: String::from_utf8_lossy(&c.body).into_owned(),
        truncated: c.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";

    #[test]
    fn first_of_each_status_then_nothing() {
        let mut st = SampleStore::new(2, 4);
        assert!(st.wants(0, 200));
        let a = st.begin(0, 200, HEAD, 10).unwrap();
        assert!(!st.wants(0, 200), "being sampled: no second one");
        assert!(st.begin(0, 200, HEAD, 11).is_none());
        assert!(st.wants(1, 200), "per endpoint");
        st.append(a, b"hel");
        st.append(a, b"lo");
        st.finish(a);
        let s = st.samples_of(0);
        assert_eq!(
            s,
            vec![Sample {
                status: 200,
                head: "HTTP/1.1 200 OK\nContent-Length: 5".into(),
                body: "hell".into(),
                truncated: true,
            }]
        );
        assert!(st.samples_of(1).is_empty());
        // Out of range endpoints and codes are never sampled.
        assert!(!st.wants(5, 200));
        assert!(!st.wants(0, 1024));
    }

    #[test]
    fn exact_size_is_not_truncated_and_zero_size_keeps_no_body() {
        let mut st = SampleStore::new(1, 5);
        let a = st.begin(0, 200, HEAD, 0).unwrap();
        st.append(a, b"hello");
        st.finish(a);
        assert!(!st.samples_of(0)[0].truncated);
        let mut st = SampleStore::new(1, 0);
        let a = st.begin(0, 404, HEAD, 0).unwrap();
        st.append(a, b"x");
        st.finish(a);
        let s = &st.samples_of(0)[0];
        assert_eq!((s.body.as_str(), s.truncated), ("", true));
    }

    #[test]
    fn aborted_capture_frees_the_status_and_reuses_its_slot() {
        let mut st = SampleStore::new(1, 16);
        for _ in 0..1000 {
            let a = st.begin(0, 500, HEAD, 0).unwrap();
            st.append(a, b"partial");
            st.abort(a);
        }
        assert_eq!(st.items.len(), 1, "aborted slots are reused: bounded");
        assert!(st.samples_of(0).is_empty());
        let a = st.begin(0, 500, HEAD, 7).unwrap();
        st.finish(a);
        st.abort(a); // too late: it completed
        assert_eq!(st.samples_of(0).len(), 1);
    }

    #[test]
    fn hostile_statuses_and_heads_stay_bounded() {
        let mut st = SampleStore::new(1, 100);
        let big_head = vec![b'x'; 64 * 1024];
        for code in 100..1000u16 {
            if let Some(i) = st.begin(0, code, &big_head, 0) {
                st.append(i, &[b'y'; 10_000]);
                st.finish(i);
            }
        }
        let s = st.samples_of(0);
        assert_eq!(s.len(), MAX_PER_ENDPOINT);
        let bytes: usize = st
            .items
            .iter()
            .map(|c| c.head.capacity() + c.body.capacity())
            .sum();
        assert!(bytes <= MAX_PER_ENDPOINT * (MAX_HEAD + 100), "{bytes}");
        assert!(s.iter().all(|x| x.truncated && x.head.ends_with('…')));
    }

    #[test]
    fn merge_keeps_the_earliest_and_ignores_unfinished() {
        let mut a = SampleStore::new(1, 64);
        let mut b = SampleStore::new(1, 64);
        let i = a.begin(0, 200, b"HTTP/1.1 200 A\r\n\r\n", 50).unwrap();
        a.finish(i);
        let i = b.begin(0, 200, b"HTTP/1.1 200 B\r\n\r\n", 20).unwrap();
        b.finish(i);
        let i = b.begin(0, 404, b"HTTP/1.1 404 B\r\n\r\n", 90).unwrap();
        b.finish(i);
        let _unfinished = b.begin(0, 503, b"HTTP/1.1 503 B\r\n\r\n", 1).unwrap();
        let i = a.begin(0, 404, b"HTTP/1.1 404 A\r\n\r\n", 95).unwrap();
        a.finish(i);
        a.merge(&b);
        let heads: Vec<(u16, String)> = a
            .samples_of(0)
            .into_iter()
            .map(|s| (s.status, s.head))
            .collect();
        assert_eq!(
            heads,
            vec![
                (200, "HTTP/1.1 200 B".to_string()),
                (404, "HTTP/1.1 404 B".to_string())
            ]
        );
    }

    #[test]
    fn lossy_utf8() {
        let mut st = SampleStore::new(1, 64);
        let i = st
            .begin(0, 200, b"HTTP/1.1 200 \xffK\r\nX: \xc3\xa9\r\n\r\n", 0)
            .unwrap();
        st.append(i, b"caf\xc3\xa9 \xfe");
        st.finish(i);
        let s = &st.samples_of(0)[0];
        assert_eq!(s.head, "HTTP/1.1 200 \u{fffd}K\nX: é");
        assert_eq!(s.body, "café \u{fffd}");
    }
}
