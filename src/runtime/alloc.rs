//! glibc allocator settings for a daemon that loads large tables once.
//!
//! glibc raises its mmap threshold each time a large block is freed, so
//! after loading a big VIP list the next large buffers land in the brk heap
//! and leave it fragmented: a 100k-route table then cost 10 MiB more RSS
//! than the data it holds. A fixed threshold keeps large buffers in their
//! own mappings, returned to the kernel when freed; a trim after loading
//! hands back what the load left behind.

/// Call once at start-up, before large allocations.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; any value is safe.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        // One arena: the loader thread's garbage lands in the heap that
        // `trim` hands back, not in an arena of its own that keeps it.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Free bytes the allocator may hold before a periodic check hands them
/// back: the initial sync of each session leaves encode buffers behind.
const SLACK: usize = 64 * 1024;

/// Returns freed heap pages to the kernel when more than [`SLACK`] is
/// free; cheap enough to call on every tick of an idle daemon.
pub fn trim_slack() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads allocator statistics.
        let free = unsafe { libc::mallinfo2() }.fordblks;
        if free > SLACK {
            trim();
        }
    }
}

/// Returns freed heap pages to the kernel.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
