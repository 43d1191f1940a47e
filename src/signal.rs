//! Process-wide stop request from SIGINT / SIGTERM: a handler sets one static flag that
//! the worker loops and the built-in target read once per loop turn (never per request);
//! a second signal exits at once. Owns the only signal code; the handler does nothing
//! but an atomic swap and, the second time, `_exit` (after showing the cursor again when
//! the live panel has hidden it: one `write` to stderr).

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    // A second signal: the user means it. Exit at once (128 + SIGINT, as shells do).
    if STOP.swap(true, Ordering::SeqCst) {
        if CURSOR_HIDDEN.load(Ordering::SeqCst) {
            const SHOW: &[u8] = b"\x1b[0m\x1b[?25h\n";
            // SAFETY: write is async-signal-safe; the buffer is a static.
            unsafe { libc::write(2, SHOW.as_ptr().cast(), SHOW.len()) };
        }
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// The live panel hid the cursor on stderr (a second signal shows it before exiting).
static CURSOR_HIDDEN: AtomicBool = AtomicBool::new(false);

/// Says whether the cursor is hidden now (the live panel calls this).
pub fn cursor_hidden(hidden: bool) {
    CURSOR_HIDDEN.store(hidden, Ordering::SeqCst);
}

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGINT and SIGTERM handlers (once; later calls do nothing).
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

/// True once SIGINT or SIGTERM has arrived (after `install`).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}
