//! The `tressi` binary: argv → `cli::parse` → run / demo / target → exit code.
//! Thin on purpose: every decision lives in the library. Exit codes: 0 done, 2 usage or
//! set-up error (printed once, as `tressi: <message>`), 3 an early-exit rule stopped the
//! run (the report says which), 130 interrupted by SIGINT/SIGTERM (after the report).

use std::io::{self, Write};
use std::process::ExitCode;
use tressi::ui::term::Display;
use tressi::{report, Command, Error, Summary};

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let _ = writeln!(io::stderr(), "tressi: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<u8, Error> {
    let mut code = 0;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match tressi::cli::parse(std::env::args_os().skip(1))? {
        Command::Help(text) => {
            let _ = out.write_all(text.as_bytes());
        }
        Command::Version => {
            let _ = writeln!(out, "tressi {}", env!("CARGO_PKG_VERSION"));
        }
        Command::Target(opts) => tressi::target_server::run_cli(&opts)?,
        Command::Init => {
            let path = tressi::config::init(std::path::Path::new("."))?;
            let _ = writeln!(
                out,
                "wrote {} (run it with 'tressi run {}')",
                path.display(),
                tressi::config::INIT_FILE
            );
        }
        Command::Schema => {
            let text = serde_json::to_string_pretty(&tressi::config::schema())
                .map_err(|e| Error::Setup(e.to_string()))?;
            let _ = writeln!(out, "{text}");
        }
        Command::SummarySchema => {
            let text = serde_json::to_string_pretty(&report::schema::summary())
                .map_err(|e| Error::Setup(e.to_string()))?;
            let _ = writeln!(out, "{text}");
        }
        Command::Run(plan) => {
            let mut display = Display::new(&plan.output);
            for note in plan.notices() {
                eprintln!("tressi: note: {note}");
            }
            display.banner(&tressi::ui::banner(&plan));
            if let Some(dir) = &plan.export {
                report::prepare_export_dir(dir)?;
            }
            // Signals end the process during set-up; once the workers run, the first one
            // stops the run and the report is still printed.
            let summary = tressi::run_watched(&plan, &mut |snap| {
                tressi::signal::install();
                display.tick(&plan, snap);
            });
            display.finish(); // the panel goes, the cursor comes back: then the report
            let mut summary = summary?;
            report::finish(&mut summary, plan.report.show_secrets);
            print(&summary, plan.output.json, &mut out);
            if plan.report.latency && !plan.output.json {
                let _ = writeln!(out, "\n  Detailed Percentile spectrum (ms):");
                let _ = report::hgrm::write(&summary.histogram, &mut out);
            }
            // Written after the report and also when interrupted (the summary says so).
            if let Some(dir) = &plan.export {
                let _ = out.flush();
                report::write_exports(&summary, dir)?;
            }
            if summary.early_exit.is_some() {
                code = 3;
            }
            if summary.interrupted {
                code = 130;
            }
        }
        Command::Demo { json, ui, quiet } => {
            tressi::signal::install();
            let mut output = tressi::Output::default();
            (output.json, output.ui, output.quiet) = (json, ui, quiet);
            let mut display = Display::new(&output);
            display.banner("tressi demo: built-in target on loopback, 50 connections for 3s");
            let demo = tressi::demo_watched(output, &mut |plan, snap| display.tick(plan, snap));
            display.finish();
            let (mut summary, served) = demo?;
            report::finish(&mut summary, false);
            print(&summary, json, &mut out);
            if !json {
                let _ = writeln!(out, "\n  Target       served {served} responses");
            }
        }
    }
    let _ = out.flush();
    Ok(code)
}

fn print(summary: &Summary, json: bool, out: &mut dyn Write) {
    // A closed stdout (e.g. `| head`) is not an error worth a panic or a message.
    let _ = if json {
        report::write_json(summary, out)
    } else {
        report::write_text(summary, out)
    };
}
