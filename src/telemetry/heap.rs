//! Live heap bytes, counted by a wrapper around the global allocator. Resident memory cannot
//! tell a leak from an allocator that keeps freed pages: the live count can. `elevator`
//! installs [`Counting`] around mimalloc, and so does the integration test binary; in any
//! other binary [`live_bytes`] says `None`.
//!
//! The count is kept in a few cache-line-padded shards picked per thread, so the hot path's
//! allocations do not all contend for one atomic. A shard can go negative (a thread frees what
//! another allocated); only the sum means anything. Each thread first sums its own allocations
//! in a plain thread-local and adds them to its shard once they reach [`FLUSH_BYTES`] either
//! way: an atomic add on every allocation and free cost about 4% of a Check's CPU time, and
//! the count is only ever off by what each thread has not yet added (under [`FLUSH_BYTES`]).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

const SHARDS: usize = 16;

/// How far a thread's own sum may grow (or shrink) before it is added to its shard: small
/// beside any growth worth seeing, large beside what one call allocates.
const FLUSH_BYTES: isize = 16 * 1024;

/// One shard of the count, alone on its cache line.
#[repr(align(128))]
struct Shard(AtomicIsize);

static COUNTS: [Shard; SHARDS] = [const { Shard(AtomicIsize::new(0)) }; SHARDS];
static INSTALLED: AtomicBool = AtomicBool::new(false);
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // A const-initialised `Cell` has no destructor, so reading it is safe from inside the
    // allocator, even while a thread is being torn down.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    // The bytes this thread allocated (net) and has not yet added to its shard.
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

fn shard() -> &'static AtomicIsize {
    let index = SHARD
        .try_with(|shard| {
            if shard.get() == usize::MAX {
                shard.set(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            shard.get()
        })
        .unwrap_or(0);
    &COUNTS[index].0
}

/// A global allocator that counts the bytes `A` holds for the program.
pub struct Counting<A>(pub A);

// SAFETY: every call is passed to `A` unchanged; the count is bookkeeping beside it.
#[expect(
    unsafe_code,
    reason = "a global allocator implements the unsafe GlobalAlloc trait"
)]
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let pointer = unsafe { self.0.alloc(layout) };
        if !pointer.is_null() {
            count(layout.size() as isize);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let pointer = unsafe { self.0.alloc_zeroed(layout) };
        if !pointer.is_null() {
            count(layout.size() as isize);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { self.0.dealloc(pointer, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let moved = unsafe { self.0.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

fn count(bytes: isize) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    let unflushed = PENDING.try_with(|pending| {
        let sum = pending.get() + bytes;
        if sum.abs() < FLUSH_BYTES {
            pending.set(sum);
            return 0;
        }
        pending.set(0);
        sum
    });
    match unflushed {
        Ok(0) => {}
        Ok(sum) => {
            shard().fetch_add(sum, Ordering::Relaxed);
        }
        // A thread being torn down: count directly.
        Err(_) => {
            shard().fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

/// Bytes allocated and not yet freed, when [`Counting`] is the global allocator.
pub fn live_bytes() -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let sum: isize = COUNTS
        .iter()
        .map(|shard| shard.0.load(Ordering::Relaxed))
        .sum();
    Some(sum.max(0) as u64)
}

/// The process's resident memory in bytes (`VmRSS`), where `/proc` has it.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        unsafe_code,
        reason = "the test calls the allocator directly, as the runtime does"
    )]
    fn a_counting_allocator_adds_what_it_allocates_and_takes_back_what_it_frees() {
        let counting = Counting(std::alloc::System);
        let before = live_bytes().unwrap_or(0) as isize;
        let layout = Layout::from_size_align(1 << 20, 8).unwrap();
        // SAFETY: a valid non-zero layout; the pointer is freed with the same layout.
        let pointer = unsafe { counting.alloc(layout) };
        let during = live_bytes().unwrap() as isize;
        // SAFETY: as above.
        let pointer = unsafe { counting.realloc(pointer, layout, 2 << 20) };
        let grown = live_bytes().unwrap() as isize;
        // SAFETY: freed with the layout of its current size.
        unsafe { counting.dealloc(pointer, Layout::from_size_align(2 << 20, 8).unwrap()) };
        let after = live_bytes().unwrap() as isize;
        // Other tests' threads allocate too, but not a mebibyte at a time through this one.
        assert!(
            (during - before - (1 << 20)).abs() < 1 << 19,
            "{before} -> {during}"
        );
        assert!(
            (grown - during - (1 << 20)).abs() < 1 << 19,
            "{during} -> {grown}"
        );
        assert!((after - before).abs() < 1 << 19, "{before} -> {after}");
    }
}
