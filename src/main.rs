//! The `tressi` binary: argv → `cli::parse` → run / demo / target → exit code.
//! Thin on purpose: every decision lives in the library. Exit codes: 0 done, 2 usage or
//! set-up error (printed once, as `tressi: <message>`) or a report that could not be
//! written to stdout (a closed pipe is not an error), 3 an early-exit rule stopped the
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
    let mut out = Stdout::new();
    let code = dispatch(&mut out)?;
    out.finish()?;
    Ok(code)
}

/// Standard output, buffered. A reader that went away (`| head`: a broken pipe) ends the
/// output quietly; any other failure to write (a full disk, `>/dev/full`) is kept, and
/// `finish` reports it, so a report that was lost never looks like a success.
struct Stdout {
    inner: io::BufWriter<io::StdoutLock<'static>>,
    closed: bool,
    failed: Option<io::Error>,
}

impl Stdout {
    fn new() -> Stdout {
        Stdout {
            inner: io::BufWriter::new(io::stdout().lock()),
            closed: false,
            failed: None,
        }
    }

    fn note(&mut self, e: io::Error) {
        self.closed = true;
        if e.kind() != io::ErrorKind::BrokenPipe && self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        let _ = self.flush(); // a failure is kept in `failed`
        match self.failed {
            Some(e) => Err(Error::Setup(format!(
                "cannot write to standard output: {e}"
            ))),
            None => Ok(()),
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.note(e);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        if let Err(e) = self.inner.flush() {
            self.note(e);
        }
        Ok(())
    }
}

fn dispatch(out: &mut Stdout) -> Result<u8, Error> {
    let mut code = 0;
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
                "wrote {} (run it with 'tressi run {}'; for an editor's completion, its \
                 $schema file: 'tressi schema > tressi.schema.json')",
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
            print(&summary, plan.output.json, out);
            if plan.report.latency && !plan.output.json {
                let _ = writeln!(out, "\n  Detailed Percentile spectrum (ms):");
                let _ = report::hgrm::write(&summary.histogram, out);
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
            print(&summary, json, out);
            if !json {
                let _ = writeln!(out, "\n  Target       served {served} responses");
            }
        }
    }
    Ok(code)
}

fn print(summary: &Summary, json: bool, out: &mut dyn Write) {
    // Write failures are kept by `Stdout` and reported once at the end.
    let _ = if json {
        report::write_json(summary, out)
    } else {
        report::write_text(summary, out)
    };
}
