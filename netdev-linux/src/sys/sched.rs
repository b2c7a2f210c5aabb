//! Scheduling policy of the calling thread.

use std::io;

/// Puts the calling thread under `SCHED_BATCH` (priority 0, as
/// `SCHED_OTHER` requires): the same CPU share as before, but its wake-ups
/// do not preempt the running thread.
pub(crate) fn set_batch_policy() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a live sched_param for the call; pid 0 is the
    // calling thread.
    syscall!(sched_setscheduler(0, libc::SCHED_BATCH, &param)).map(drop)
}
