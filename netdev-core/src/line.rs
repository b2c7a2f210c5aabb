//! A value on cache lines of its own.

/// `T`, starting a cache line and padded to whole lines: for data that one
/// set of threads writes and others should not have to fetch along with
/// it (see `Registry::wait_for_change`).
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub(crate) struct CacheLine<T>(pub(crate) T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
