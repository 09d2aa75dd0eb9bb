//! The `elevator` binary: everything lives in the library; see `elevator::cli`.

fn main() -> std::process::ExitCode {
    elevator::cli::main()
}
