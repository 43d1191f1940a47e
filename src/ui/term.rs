//! Live progress, terminal part: picks the panel, plain progress lines or silence; asks
//! the terminal its size (ioctl TIOCGWINSZ on stderr); writes each frame to stderr in one
//! write; hides the cursor while the panel is up and always shows it again (`finish`, on
//! drop, and on a second signal through `signal::cursor_hidden`). Thin on purpose: all
//! text comes from the pure parent module; nothing here decides what is shown.

use super::{
    color_wanted, erase, frame, progress_line, render_panel, table_rows_for, Live, HIDE_CURSOR,
    SHOW_CURSOR,
};
use crate::engine::progress::Snapshot;
use crate::plan::{Output, Plan};
use std::io::{IsTerminal, Write};

/// How progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live panel, redrawn in place (stderr is a terminal, no `--no-ui`).
    Panel,
    /// One plain line a second (`--no-ui`, or stderr is not a terminal, or it is one
    /// that says it cannot move the cursor: `TERM=dumb`).
    Lines,
    /// Nothing (`--quiet`).
    Off,
}

/// The mode for `output` when stderr is (or is not) a terminal able to move its cursor.
pub fn mode(output: &Output, stderr_tty: bool) -> Mode {
    if output.quiet {
        Mode::Off
    } else if output.ui && stderr_tty {
        Mode::Panel
    } else {
        Mode::Lines
    }
}

/// Columns and rows of the terminal on `fd`, if it is one and says.
fn size(fd: libc::c_int) -> Option<(usize, usize)> {
    // SAFETY: winsize is plain integers, for which all zeroes is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ only writes a winsize into the struct passed.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some((usize::from(ws.ws_col), usize::from(ws.ws_row)))
}

/// Progress on stderr for one run.
#[derive(Debug)]
pub struct Display {
    mode: Mode,
    color: bool,
    live: Option<Live>,
    /// Panel lines on screen now.
    drawn: usize,
    cursor_hidden: bool,
}

impl Display {
    /// Reads whether stderr is a terminal and `NO_COLOR`.
    pub fn new(output: &Output) -> Display {
        let tty = std::io::stderr().is_terminal();
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Display {
            mode: mode(output, tty && !dumb),
            color: color_wanted(std::env::var_os("NO_COLOR").as_deref(), tty),
            live: None,
            drawn: 0,
            cursor_hidden: false,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A line printed once before the panel (nothing in the other modes).
    pub fn banner(&self, text: &str) {
        if self.mode == Mode::Panel {
            // Within the terminal's width: a wrapped line would leave its tail alone on
            // the next line.
            let (cols, _) = size(libc::STDERR_FILENO).unwrap_or((80, 24));
            let _ = writeln!(std::io::stderr(), "{}", super::fit_middle(text, cols));
        }
    }

    /// The run's latest summed snapshot: redraws the panel, or prints a progress line
    /// when one is due.
    pub fn tick(&mut self, plan: &Plan, snap: &Snapshot) {
        if self.mode == Mode::Off {
            return;
        }
        let live = self.live.get_or_insert_with(|| Live::new(plan));
        let line_due = live.update(snap);
        let mut out = String::new();
        match self.mode {
            Mode::Off => return,
            Mode::Lines => {
                if !line_due {
                    return;
                }
                out.push_str(&progress_line(&live.view(0)));
                out.push('\n');
            }
            Mode::Panel => {
                let (cols, rows) = size(libc::STDERR_FILENO).unwrap_or((80, 24));
                let rows = if rows == 0 { 24 } else { rows };
                let lines = render_panel(&live.view(table_rows_for(rows)), cols, rows, self.color);
                if !self.cursor_hidden {
                    out.push_str(HIDE_CURSOR);
                    self.cursor_hidden = true;
                    crate::signal::cursor_hidden(true);
                }
                out.push_str(&frame(self.drawn, &lines));
                self.drawn = lines.len();
            }
        }
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }

    /// Erases the panel and shows the cursor again (the final report then prints where
    /// the panel was). Safe to call more than once.
    pub fn finish(&mut self) {
        if self.drawn == 0 && !self.cursor_hidden {
            return;
        }
        let mut out = erase(self.drawn);
        out.push_str(SHOW_CURSOR);
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        self.drawn = 0;
        self.cursor_hidden = false;
        crate::signal::cursor_hidden(false);
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_quiet_no_ui_and_the_terminal() {
        let out = |ui, quiet| Output {
            json: false,
            ui,
            quiet,
        };
        let cases = [
            // (ui, quiet, tty) → mode
            ((true, false, true), Mode::Panel),
            ((true, false, false), Mode::Lines),
            ((false, false, true), Mode::Lines),
            ((false, false, false), Mode::Lines),
            ((true, true, true), Mode::Off),
            ((false, true, false), Mode::Off),
        ];
        for ((ui, quiet, tty), want) in cases {
            assert_eq!(
                mode(&out(ui, quiet), tty),
                want,
                "ui {ui} quiet {quiet} tty {tty}"
            );
        }
        // `--json` changes nothing here: progress stays on stderr, brace-free.
        let json = Output {
            json: true,
            ui: true,
            quiet: false,
        };
        assert_eq!(mode(&json, false), Mode::Lines);
    }
}
