use clap::Parser;
use parley_server::config::Config;
use parley_server::state::AppState;
use parley_server::{database, server};

/// glibc's allocator showed up as about a tenth of a node's time under
/// load (many small frames and futures freed on other threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    parley_server::logging::init();
    let config = Config::parse();
    parley_server::open_files::raise();
    match start(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start(config: Config) -> Result<(), server::StartError> {
    let pool = database::connect(&config).await?;
    let state = AppState::new(pool, config)?;
    server::start_relay(&state).await?;
    server::join_cluster(&state).await?;
    let running = server::bind(state)?;
    running.stop_on_signals();
    for addr in running.addrs() {
        // Exactly one line on stdout: the harness and xtask read it.
        println!("parley-server listening on http://{addr}");
    }
    // Returns once the HTTP server and then the background tasks (writers,
    // relay) have stopped.
    running.run().await?;
    tracing::info!("stopped");
    Ok(())
}
