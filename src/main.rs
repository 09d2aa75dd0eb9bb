//! The `elevator` binary: everything lives in the library; see `elevator::cli`.

/// mimalloc instead of glibc's allocator: a Check allocates a few dozen small objects, and
/// glibc's occasional consolidation of freed chunks showed in the profile and the tail.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    elevator::cli::main()
}
