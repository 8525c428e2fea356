//! Colours that work over SSH: none when NO_COLOR is set, the 16 ANSI colours by default (the
//! terminal's own palette, so a light or dark scheme stays readable), RGB only when COLORTERM
//! says the terminal takes it. Meaning never rests on colour alone: verdicts and states also
//! carry a symbol or a word.

use ratatui::style::{Color, Modifier, Style};
use sentri::domain::WorkflowState;

/// How many colours the terminal takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// NO_COLOR: bold, dim and reverse only.
    Mono,
    /// The 16 ANSI colours.
    Basic,
    /// 24-bit colour (COLORTERM=truecolor or 24bit).
    TrueColor,
}

/// The console's styles for one palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
}

/// The roles a colour plays.
#[derive(Debug, Clone, Copy)]
enum Tone {
    Good,
    Warn,
    Bad,
    Info,
    Accent,
}

impl Theme {
    /// The palette the environment asks for.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let colorterm = std::env::var("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        Theme::for_terminal(no_color, &colorterm)
    }

    /// The palette for these settings (NO_COLOR set and non-empty; COLORTERM's value).
    pub fn for_terminal(no_color: bool, colorterm: &str) -> Theme {
        let palette = if no_color {
            Palette::Mono
        } else if colorterm == "truecolor" || colorterm == "24bit" {
            Palette::TrueColor
        } else {
            Palette::Basic
        };
        Theme { palette }
    }

    fn tone(&self, tone: Tone) -> Style {
        let (basic, rgb) = match tone {
            Tone::Good => (Color::Green, Color::Rgb(0x8f, 0xc9, 0x7a)),
            Tone::Warn => (Color::Yellow, Color::Rgb(0xe5, 0xc0, 0x7b)),
            Tone::Bad => (Color::Red, Color::Rgb(0xe0, 0x6c, 0x75)),
            Tone::Info => (Color::Cyan, Color::Rgb(0x7a, 0xb8, 0xd6)),
            Tone::Accent => (Color::Blue, Color::Rgb(0x61, 0xaf, 0xef)),
        };
        match self.palette {
            Palette::Mono => match tone {
                Tone::Bad | Tone::Warn => Style::new().add_modifier(Modifier::BOLD),
                _ => Style::new(),
            },
            Palette::Basic => Style::new().fg(basic),
            Palette::TrueColor => Style::new().fg(rgb),
        }
    }

    /// Healthy: passed, completed, reachable.
    pub fn good(&self) -> Style {
        self.tone(Tone::Good)
    }

    /// Needs a human: awaiting approval, unmatched.
    pub fn warn(&self) -> Style {
        self.tone(Tone::Warn)
    }

    /// Went wrong or refused: blocked, failed, escalated, broken chain.
    pub fn bad(&self) -> Style {
        self.tone(Tone::Bad)
    }

    /// In motion or notable: running states, counts.
    pub fn info(&self) -> Style {
        self.tone(Tone::Info)
    }

    /// Secondary text: ages, hashes, hints.
    pub fn dim(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::new().add_modifier(Modifier::DIM),
            Palette::Basic => Style::new().fg(Color::DarkGray),
            Palette::TrueColor => Style::new().fg(Color::Rgb(0x7f, 0x84, 0x8e)),
        }
    }

    /// Column headings.
    pub fn header(&self) -> Style {
        self.dim().add_modifier(Modifier::BOLD)
    }

    /// The border of a pane; the focused one stands out.
    pub fn border(&self, focused: bool) -> Style {
        if focused { self.tone(Tone::Accent).add_modifier(Modifier::BOLD) } else { self.dim() }
    }

    /// The selected row.
    pub fn selected(&self, focused: bool) -> Style {
        if focused { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new().add_modifier(Modifier::BOLD) }
    }

    /// The SIMULATED banner and other must-see labels.
    pub fn banner(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            _ => Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD),
        }
    }

    /// A workflow state, coloured by what it asks of the DBA.
    pub fn state(&self, state: WorkflowState) -> Style {
        use WorkflowState::*;
        match state {
            AwaitingApproval => self.warn().add_modifier(Modifier::BOLD),
            Completed | Resolved => self.good(),
            Failed | RolledBack | Escalated | VerificationFailed | Denied | Timeout => self.bad(),
            Executing | PreFlight | Approved => self.info(),
            _ => Style::new(),
        }
    }
}
