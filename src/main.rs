//! The `elevator` binary: everything lives in the library; see `elevator::cli`.

/// mimalloc instead of glibc's allocator: a Check allocates a few dozen small objects, and
/// glibc's occasional consolidation of freed chunks showed in the profile and the tail.
/// Counted, so that `elevator_heap_live_bytes` can tell live growth from resident growth.
#[global_allocator]
static ALLOCATOR: elevator::telemetry::heap::Counting<mimalloc::MiMalloc> =
    elevator::telemetry::heap::Counting(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    elevator::cli::main()
}
