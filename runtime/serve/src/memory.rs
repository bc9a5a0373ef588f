//! Giving memory back to the system once a burst of requests is over.
//!
//! glibc's allocator gives each thread that allocates under contention an arena of
//! its own (up to eight per core) and keeps what is freed there for reuse: after
//! five 20 s rounds of 64 clients posting 1080p photos the server's resident size
//! went from 121 MiB to 405 MiB and stayed there. On a board that budgets its
//! memory, that is memory the watch loop and the models do not get. Two things
//! bring it back (measured, with both: 93 MiB 8 s after the load, below the 105 MiB
//! it had warmed up to):
//! - [`limit_arenas`] caps the arenas at two, so that freed memory is not scattered
//!   over a dozen arenas where it can be neither reused nor returned;
//! - once requests have stopped for a while, [`spawn_idle_trim`] asks the allocator
//!   to return every arena's free pages (`malloc_trim`), once per burst.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests handled so far: the idle trimmer's clock.
#[derive(Debug, Default)]
pub struct Activity(AtomicU64);

impl Activity {
    /// Counts one request.
    pub fn request(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Calls [`trim`] once `quiet` has passed with no request after some have come,
/// checking every `quiet`, for as long as the runtime runs.
pub fn spawn_idle_trim(activity: Arc<Activity>, quiet: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(quiet);
        let mut seen = activity.count();
        let mut trimmed = true;
        loop {
            tick.tick().await;
            let now = activity.count();
            if now != seen {
                (seen, trimmed) = (now, false);
            } else if !trimmed {
                trimmed = true;
                tokio::task::spawn_blocking(trim);
            }
        }
    });
}

/// Arenas the allocator may create for the server's threads (see the module's notes).
pub const ARENAS: i32 = 2;

/// Caps the allocator's arenas at [`ARENAS`]; call it first thing, before the
/// threads that allocate start. A no-op where the allocator is not glibc's.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets an allocator parameter under the allocator's
        // lock; M_ARENA_MAX takes a plain integer.
        if unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) } == 0 {
            log::debug!("the allocator kept its arena limit");
        }
    }
}

/// Returns the allocator's free memory to the system, where the allocator can.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists under its
        // locks; it takes no pointer and is safe to call from any thread at any time.
        let released = unsafe { libc::malloc_trim(0) };
        log::debug!("idle: returned free memory to the system ({released})");
    }
}
