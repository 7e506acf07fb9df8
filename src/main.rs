//! The `roomcast` binary: parse the command line, load settings, run.

use clap::Parser;

fn main() -> std::process::ExitCode {
    roomcast::allocator::tune();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
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
