use clap::Parser;
use parley_server::config::Config;
use parley_server::server;
use parley_server::state::AppState;

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
    let pool = server::connect(&config).await?;
    let state = AppState::new(pool, config);
    let relay = server::start_relay(&state).await?;
    let (running, addrs, gateway) = server::bind(state)?;
    server::stop_on_signals(&running, gateway);
    for addr in addrs {
        // Exactly one line on stdout: the harness and xtask read it.
        println!("parley-server listening on http://{addr}");
    }
    running.await?;
    // After HTTP: calls in progress keep their relay until the very end.
    if let Some(relay) = relay {
        relay.stop().await;
    }
    tracing::info!("stopped");
    Ok(())
}
