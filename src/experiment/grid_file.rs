//! Grid files (`--grid FILE`, docs/sweeps.md): lines `setting = value,
//! value, ...`, `#` starting a comment. This reads their structure; each
//! line's values are parsed where the command line parses the setting's
//! own flag, so a value means the same in a file as on the command line.

use std::fmt;

/// The settings a grid file may list, as the flags that set them are named.
pub const SETTINGS: [&str; 8] = [
    "scenario",
    "activation",
    "layers",
    "hidden",
    "init",
    "lr",
    "batch-size",
    "seeds",
];

/// One setting's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridLine {
    /// Counted from 1.
    pub number: usize,
    /// One of [`SETTINGS`].
    pub setting: &'static str,
    /// Its comma-separated values, trimmed.
    pub values: Vec<String>,
}

/// A grid file that is not one, with the line that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridFileError {
    /// Counted from 1.
    pub line: usize,
    pub problem: GridProblem,
}

/// What is wrong with a grid file's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GridProblem {
    /// Not `setting = values`.
    NotASetting { text: String },
    /// Not one of [`SETTINGS`].
    Unknown { setting: String },
    /// Listed on an earlier line too.
    Twice { setting: String },
    /// `scenario` and `activation` both say what to run.
    ScenarioAndActivation,
}

impl fmt::Display for GridFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            GridProblem::NotASetting { text } => {
                write!(f, "expected `flag = value, value, ...`, got `{text}`")
            }
            GridProblem::Unknown { setting } => write!(
                f,
                "unknown flag `{setting}`; a grid file sets {}",
                SETTINGS.join(", ")
            ),
            GridProblem::Twice { setting } => write!(f, "`{setting}` is set twice in the file"),
            GridProblem::ScenarioAndActivation => {
                write!(
                    f,
                    "`scenario` and `activation` both say what to run; set one"
                )
            }
        }
    }
}

impl std::error::Error for GridFileError {}

/// The lines of a grid file's `text` that list a setting, in file order.
pub fn parse(text: &str) -> Result<Vec<GridLine>, GridFileError> {
    let mut lines: Vec<GridLine> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let error = |problem| GridFileError {
            line: i + 1,
            problem,
        };
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((setting, values)) = line.split_once('=') else {
            return Err(error(GridProblem::NotASetting { text: line.into() }));
        };
        let setting = setting.trim().trim_start_matches("--");
        let Some(&known) = SETTINGS.iter().find(|&&s| s == setting) else {
            return Err(error(GridProblem::Unknown {
                setting: setting.into(),
            }));
        };
        let seen = |s: &str| lines.iter().any(|l| l.setting == s);
        if seen(known) {
            return Err(error(GridProblem::Twice {
                setting: setting.into(),
            }));
        }
        if ["scenario", "activation"]
            .iter()
            .all(|s| *s == known || seen(s))
        {
            return Err(error(GridProblem::ScenarioAndActivation));
        }
        lines.push(GridLine {
            number: i + 1,
            setting: known,
            values: values.split(',').map(|v| v.trim().to_string()).collect(),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_problems() {
        let lines = parse("# a sweep\nlayers = 6, 20\n\n--lr=0.01 # fast\n").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].number, lines[0].setting), (2, "layers"));
        assert_eq!(lines[0].values, ["6", "20"]);
        assert_eq!(
            (lines[1].setting, lines[1].values.clone()),
            ("lr", vec!["0.01".into()])
        );

        let problem = |text: &str| parse(text).unwrap_err();
        assert_eq!(problem("layers 6").line, 1);
        assert!(problem("depth = 3")
            .to_string()
            .contains("unknown flag `depth`"));
        assert_eq!(problem("lr = 1\nlr = 2").line, 2);
        assert_eq!(
            problem("scenario = relu\nactivation = tanh").problem,
            GridProblem::ScenarioAndActivation
        );
    }
}
