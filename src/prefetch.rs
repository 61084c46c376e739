//! `prefetch`: a hint that asks the processor to fetch a cache line that a lookup reads soon.

/// Asks the processor to fetch the cache line `value` starts in (a hint; nothing is read).
pub(crate) fn prefetch<T>(value: &T) {
    let p: *const T = value;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it reads nothing and cannot fault, and SSE is part of
    // every x86-64 processor.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
