//! Repository commands, run through the Cargo alias `cargo xtask …`:
//!
//! - `cargo xtask run`: install what is missing, build, start a private PostgreSQL
//!   cluster and serve the app (`--nodes N`, or `cargo xtask cluster`: several
//!   nodes joined by NATS behind HAProxy);
//! - `cargo xtask test`: formatting, clippy, Rust tests and the Playwright suite;
//! - `cargo xtask bench`: the load generator's scenarios, written to docs/benchmarks.md;
//! - `cargo xtask fuzz`: every decoder of untrusted input, fuzzed for minutes each.

mod bench;
mod bench_nodes;
mod bench_report;
mod bench_server;
mod build;
mod emoji;
mod fuzz;
mod nodes;
mod postgres;
mod precompress;
mod process;
mod run;
mod service_worker;
mod test;
mod tools;
mod workspace;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "run" => run::main(rest),
        "cluster" => run::cluster(rest),
        "build" => build::main(rest),
        "test" => test::main(rest),
        "bench" => bench::main(rest),
        "fuzz" => fuzz::main(rest),
        "help" | "-h" | "--help" => {
            println!(
                "{}\n\n{}\n\n{}\n\n{}\n\n{}",
                run::USAGE,
                test::USAGE,
                build::USAGE,
                bench::USAGE,
                fuzz::USAGE
            );
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!(
                "xtask: unknown command `{other}`\n\n{}\n\n{}",
                run::USAGE,
                test::USAGE
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(err) if process::interrupted() => {
            eprintln!("xtask: interrupted ({err:#})");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
