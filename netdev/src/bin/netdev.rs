//! The `netdev` command-line tool: list, show, count and watch the host's
//! network devices through the netdev library. See `netdev --help`.

#![forbid(unsafe_code)]

#[path = "../cli/mod.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
