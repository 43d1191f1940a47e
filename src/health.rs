//! Generator health: whether tressi itself kept up. Owns the figures a worker gathers
//! about its own loop (turns, lateness of rated sends, waits for a connection, its thread's
//! CPU time), the process's resource usage (getrusage), and the verdict — a pure function —
//! saying in plain words, with figures, when the client was the bottleneck.
//!
//! Must not: read a clock or the OS per request. The worker adds a few integers per rated
//! send; CPU time is read twice per worker (start and end) and getrusage twice per run.

/// A send later than this behind its intended time counts as late (1 ms: an idle worker
/// wakes on a timerfd within ~0.1 ms of a deadline, so 1 ms is ten times that).
pub const LATE_NS: u64 = 1_000_000;
/// The client was the bottleneck in the open model when at least this share of the sends
/// that found a free connection left more than `LATE_NS` late: then over 1% of the
/// corrected latencies carry the client's own delay, i.e. it reaches the p99.
pub const LATE_SHARE: f64 = 0.01;
/// …or when a send left this late (a stall of the client worth its own line).
pub const LATE_MAX_NS: u64 = 100_000_000;
/// A worker that kept its CPU busy this share of the wall time was saturated.
pub const BUSY_SHARE: f64 = 0.9;
/// …judged only in runs at least this long: in a shorter one the share is mostly the
/// worker's set-up (its thread, the connects), and `-n 1` read "busy 101%".
pub const MIN_BUSY_RUN_S: f64 = 1.0;

/// One worker's (or, merged, all workers') health counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerHealth {
    /// Event-loop turns (poll returns).
    pub loop_turns: u64,
    /// Rated requests sent at once (a connection was free when they fell due).
    pub direct_sends: u64,
    /// Their lateness behind the intended time: sum and max (ns), and how many were later
    /// than `LATE_NS`.
    pub lateness_total_ns: u64,
    pub lateness_max_ns: u64,
    pub late_sends: u64,
    /// Rated requests that waited for a free connection before being sent, and how long.
    pub queued: u64,
    pub queue_wait_total_ns: u64,
    pub queue_wait_max_ns: u64,
    /// Tokens that were due but never taken because the loop's per-turn cap was reached
    /// (the client could not keep up with the schedule).
    pub capped_unsent: u64,
    /// This worker's thread CPU time and wall time (ns); merged: the busiest worker's
    /// share in `busiest`.
    pub cpu_ns: u64,
    pub wall_ns: u64,
    pub busiest: f64,
}

impl WorkerHealth {
    /// A rated request left `late_ns` after its intended time; `waited`: it had waited
    /// in the queue for a connection (its delay is the queue's, not the loop's).
    #[inline]
    pub fn record_send(&mut self, late_ns: u64, waited: bool) {
        if waited {
            self.queued += 1;
            self.queue_wait_total_ns = self.queue_wait_total_ns.saturating_add(late_ns);
            self.queue_wait_max_ns = self.queue_wait_max_ns.max(late_ns);
        } else {
            self.direct_sends += 1;
            self.lateness_total_ns = self.lateness_total_ns.saturating_add(late_ns);
            self.lateness_max_ns = self.lateness_max_ns.max(late_ns);
            if late_ns > LATE_NS {
                self.late_sends += 1;
            }
        }
    }

    /// The worker's CPU share of its wall time, at most 1 (the two clocks are read a
    /// moment apart, so a thread busy all along can come out a little over).
    pub fn busy_share(&self) -> f64 {
        if self.wall_ns == 0 {
            0.0
        } else {
            (self.cpu_ns as f64 / self.wall_ns as f64).min(1.0)
        }
    }

    /// The busiest worker's share: of the workers merged in, and of these figures' own
    /// (one worker's stats, nothing merged, are their own sum).
    pub fn busiest_share(&self) -> f64 {
        self.busiest.max(self.busy_share())
    }

    pub fn merge(&mut self, o: &WorkerHealth) {
        self.loop_turns += o.loop_turns;
        self.direct_sends += o.direct_sends;
        self.lateness_total_ns = self.lateness_total_ns.saturating_add(o.lateness_total_ns);
        self.lateness_max_ns = self.lateness_max_ns.max(o.lateness_max_ns);
        self.late_sends += o.late_sends;
        self.queued += o.queued;
        self.queue_wait_total_ns = self
            .queue_wait_total_ns
            .saturating_add(o.queue_wait_total_ns);
        self.queue_wait_max_ns = self.queue_wait_max_ns.max(o.queue_wait_max_ns);
        self.capped_unsent += o.capped_unsent;
        // Our own share counts too: the sum may start from one worker's figures.
        self.busiest = self
            .busiest
            .max(self.busy_share())
            .max(o.busiest)
            .max(o.busy_share());
    }
}

/// What the verdict looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    /// Some endpoint has a rate (open model).
    pub open: bool,
    /// Some endpoint runs in a closed loop.
    pub closed: bool,
    pub direct_sends: u64,
    pub late_sends: u64,
    pub lateness_max_ns: u64,
    pub lateness_mean_ns: f64,
    pub capped_unsent: u64,
    /// The busiest worker's CPU share (0..1) and how many workers there were.
    pub busiest: f64,
    pub threads: usize,
    /// The run's length, seconds.
    pub duration_s: f64,
}

/// Plain-words verdict with figures when the client itself was the bottleneck; `None`
/// when it kept up.
pub fn verdict(f: &Facts) -> Option<String> {
    let mut why = Vec::new();
    if f.open && f.capped_unsent > 0 {
        why.push(format!(
            "{} scheduled requests were never sent because the event loop could not release \
             them fast enough",
            f.capped_unsent
        ));
    }
    let share = if f.direct_sends > 0 {
        f.late_sends as f64 / f.direct_sends as f64
    } else {
        0.0
    };
    if f.open && f.late_sends > 0 && (share >= LATE_SHARE || f.lateness_max_ns >= LATE_MAX_NS) {
        why.push(format!(
            "{} of {} sends ({:.1}%) left more than 1 ms behind schedule with a connection \
             free (max {}; mean over all sends {})",
            f.late_sends,
            f.direct_sends,
            share * 100.0,
            crate::units::format_duration(std::time::Duration::from_nanos(f.lateness_max_ns)),
            crate::units::format_duration(std::time::Duration::from_nanos(
                f.lateness_mean_ns.round() as u64
            )),
        ));
    }
    if f.closed && f.duration_s >= MIN_BUSY_RUN_S && f.busiest >= BUSY_SHARE {
        why.push(format!(
            "the busiest of {} worker thread{} used {:.0}% of a CPU, so the closed loop may \
             have been limited by the client (try more --threads)",
            f.threads,
            if f.threads == 1 { "" } else { "s" },
            f.busiest * 100.0
        ));
    }
    if why.is_empty() {
        None
    } else {
        Some(why.join("; "))
    }
}

/// CPU time of the calling thread, ns.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the calling thread's CPU clock into `ts`.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// The process's resource usage at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub user_s: f64,
    pub sys_s: f64,
    /// Peak resident set size so far, KiB (Linux reports `ru_maxrss` in KiB).
    pub max_rss_kib: u64,
}

/// getrusage(RUSAGE_SELF).
pub fn process_usage() -> Usage {
    // SAFETY: getrusage fills the zeroed struct; no pointers kept.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Usage::default();
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    Usage {
        user_s: secs(ru.ru_utime),
        sys_s: secs(ru.ru_stime),
        max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_share_is_the_same_whichever_worker_the_sum_starts_from() {
        let worker = |cpu_ns, wall_ns| WorkerHealth {
            cpu_ns,
            wall_ns,
            ..WorkerHealth::default()
        };
        let (a, b) = (worker(900, 1000), worker(300, 1000));
        let mut from_empty = WorkerHealth::default();
        from_empty.merge(&a);
        from_empty.merge(&b);
        let mut from_a = a.clone();
        from_a.merge(&b);
        let mut from_b = b.clone();
        from_b.merge(&a);
        for h in [&from_empty, &from_a, &from_b, &a] {
            assert!(
                (h.busiest_share() - 0.9).abs() < 1e-9,
                "{}",
                h.busiest_share()
            );
        }
    }

    fn facts() -> Facts {
        Facts {
            open: false,
            closed: false,
            direct_sends: 0,
            late_sends: 0,
            lateness_max_ns: 0,
            lateness_mean_ns: 0.0,
            capped_unsent: 0,
            busiest: 0.0,
            threads: 1,
            duration_s: 10.0,
        }
    }

    #[test]
    fn verdict_case_table() {
        let open = Facts {
            open: true,
            direct_sends: 10_000,
            lateness_mean_ns: 60_000.0,
            lateness_max_ns: 400_000,
            ..facts()
        };
        let closed = Facts {
            closed: true,
            threads: 2,
            ..facts()
        };
        let cases: &[(&str, Facts, Option<&str>)] = &[
            ("nothing happened", facts(), None),
            ("open, on time", open, None),
            (
                "open, 0.5% late and no long stall",
                Facts {
                    late_sends: 50,
                    lateness_max_ns: 3_000_000,
                    ..open
                },
                None,
            ),
            (
                "open, 1% late",
                Facts {
                    late_sends: 100,
                    lateness_max_ns: 3_000_000,
                    ..open
                },
                Some("100 of 10000 sends (1.0%) left more than 1 ms behind schedule"),
            ),
            (
                "open, 1% late: the mean (60µs, under the 1 ms that makes a send late) is \
                 said to be over all sends",
                Facts {
                    late_sends: 100,
                    lateness_max_ns: 3_000_000,
                    ..open
                },
                Some("(max 3.00ms; mean over all sends 60.0µs)"),
            ),
            (
                "open, one 150 ms stall",
                Facts {
                    late_sends: 1,
                    lateness_max_ns: 150_000_000,
                    ..open
                },
                Some("max 150ms"),
            ),
            (
                "open, tokens left behind",
                Facts {
                    capped_unsent: 12,
                    ..open
                },
                Some("12 scheduled requests were never sent"),
            ),
            (
                "closed, busy 85%",
                Facts {
                    busiest: 0.85,
                    ..closed
                },
                None,
            ),
            (
                "closed, busy 97%",
                Facts {
                    busiest: 0.97,
                    ..closed
                },
                Some("the busiest of 2 worker threads used 97% of a CPU"),
            ),
            (
                "closed, busy 100% in a 3 ms run (-n 1): that is set-up, no verdict",
                Facts {
                    busiest: 1.0,
                    duration_s: 0.003,
                    ..closed
                },
                None,
            ),
            (
                "closed, busy 95% in a run of a second",
                Facts {
                    busiest: 0.95,
                    duration_s: 1.0,
                    ..closed
                },
                Some("used 95% of a CPU"),
            ),
            (
                "open only: a busy CPU alone is not the verdict",
                Facts {
                    busiest: 0.99,
                    ..open
                },
                None,
            ),
        ];
        for (name, f, want) in cases {
            let got = verdict(f);
            match want {
                None => assert_eq!(got, None, "{name}"),
                Some(w) => {
                    let g = got.unwrap_or_else(|| panic!("{name}: no verdict"));
                    // The figures only: reports put "the client was the bottleneck:"
                    // in front.
                    assert!(!g.contains("bottleneck"), "{name}: {g}");
                    assert!(g.contains(w), "{name}: {g:?} lacks {w:?}");
                }
            }
        }
    }

    #[test]
    fn sends_are_split_into_loop_lateness_and_queue_waits() {
        let mut h = WorkerHealth::default();
        h.record_send(10_000, false);
        h.record_send(2_000_000, false);
        h.record_send(50_000_000, true);
        h.record_send(5_000_000, true);
        assert_eq!(
            (h.direct_sends, h.late_sends, h.lateness_max_ns),
            (2, 1, 2_000_000)
        );
        assert_eq!(
            (h.queued, h.queue_wait_total_ns, h.queue_wait_max_ns),
            (2, 55_000_000, 50_000_000)
        );
        let mut m = WorkerHealth::default();
        h.cpu_ns = 900;
        h.wall_ns = 1000;
        m.merge(&h);
        m.merge(&WorkerHealth {
            cpu_ns: 1,
            wall_ns: 10,
            ..WorkerHealth::default()
        });
        assert_eq!(m.busiest, 0.9);
        assert_eq!(m.late_sends, 1);
        // CPU time read a moment after the wall clock started: never over 100%.
        m.merge(&WorkerHealth {
            cpu_ns: 1_010,
            wall_ns: 1_000,
            ..WorkerHealth::default()
        });
        assert_eq!(m.busiest, 1.0);
    }

    #[test]
    fn usage_and_thread_cpu_move_forward() {
        let a = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_ns() > a);
        let u = process_usage();
        assert!(u.max_rss_kib > 0);
        assert!(u.user_s + u.sys_s > 0.0);
    }
}
