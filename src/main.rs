//! The `roomcast` binary: parse the command line, load settings, run.

use clap::Parser;

/// Info and above, except the WebSocket codec's complaints about clients' malformed
/// frames: the client's fault, answered by closing its socket, not an error of ours.
const DEFAULT_LOG: &str = "info,actix_http::ws::codec=off";

fn main() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(DEFAULT_LOG)).init();
    roomcast::allocator::tune();
    let cli = roomcast::cli::Cli::parse();
    match cli.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            eprintln!("roomcast: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
