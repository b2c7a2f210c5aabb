//! Configuration backends (in progress).
