//! Starting a child and waiting for it. Whatever goes wrong is one
//! [`ProcessError`] that says which command (its whole command line, as a
//! shell would take it), how it ended (exit status or signal) and what it
//! last wrote, so every caller reports a failing child the same way and
//! only adds what to do about it.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

/// How many of a failed child's last lines of stderr (and of stdout) its
/// error keeps: enough for a Java exception's cause, short enough to read.
pub const TAIL_LINES: usize = 20;

/// A child process that could not be run or did not succeed.
#[derive(Debug)]
pub struct ProcessError {
    /// The command line, quoted for a shell.
    pub command: String,
    pub failure: Failure,
}

/// What went wrong with the child.
#[derive(Debug)]
pub enum Failure {
    /// It could not be started (not found, not executable, ...).
    Start(io::Error),
    /// It started, but waiting for it or reading its output failed.
    Wait(io::Error),
    /// It ended unsuccessfully: a non-zero exit status or a signal.
    Exit {
        status: ExitStatus,
        /// Its last [`TAIL_LINES`] lines of stderr.
        stderr_tail: Vec<String>,
        /// Its last [`TAIL_LINES`] lines of stdout (some tools, Maven among
        /// them, report errors there).
        stdout_tail: Vec<String>,
    },
}

impl ProcessError {
    /// The error of a child that ended with `status` after writing `stdout`
    /// and `stderr`; `None` if it succeeded.
    pub fn check(
        command: impl Into<String>,
        status: ExitStatus,
        stdout: &[u8],
        stderr: &[u8],
    ) -> Option<ProcessError> {
        (!status.success()).then(|| ProcessError {
            command: command.into(),
            failure: Failure::Exit {
                status,
                stderr_tail: tail(stderr),
                stdout_tail: tail(stdout),
            },
        })
    }

    /// It could not be started at all: the caller may know what to install.
    pub fn not_started(&self) -> bool {
        matches!(self.failure, Failure::Start(_))
    }

    /// The same error with every occurrence of `secret` (a password the
    /// child was given and might echo) replaced.
    pub fn redact(mut self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let hide = |text: &mut String| *text = text.replace(secret, "[redacted]");
        hide(&mut self.command);
        if let Failure::Exit {
            stderr_tail,
            stdout_tail,
            ..
        } = &mut self.failure
        {
            stderr_tail.iter_mut().chain(stdout_tail).for_each(hide);
        }
        self
    }
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = &self.command;
        match &self.failure {
            Failure::Start(err) => write!(f, "cannot run `{command}`: {err}"),
            Failure::Wait(err) => write!(f, "lost track of `{command}`: {err}"),
            Failure::Exit {
                status,
                stderr_tail,
                stdout_tail,
            } => {
                write!(f, "`{command}` failed ({})", describe_status(*status))?;
                for (stream, lines) in [("stderr", stderr_tail), ("stdout", stdout_tail)] {
                    if !lines.is_empty() {
                        write!(f, "\nlast lines of its {stream}:")?;
                        for line in lines {
                            write!(f, "\n  {line}")?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Start(err) | Failure::Wait(err) => Some(err),
            Failure::Exit { .. } => None,
        }
    }
}

/// "exit status 3", or "killed by signal 9 (SIGKILL)".
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => match signal_name(signal) {
            Some(name) => format!("killed by signal {signal} ({name})"),
            None => format!("killed by signal {signal}"),
        },
        (None, None) => status.to_string(),
    }
}

fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

/// The last [`TAIL_LINES`] non-blank lines of a child's output.
fn tail(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..]
        .iter()
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// `command`'s program and arguments, quoted where a shell would need it
/// (its environment and directory are not shown).
pub fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Starts `command` as it is set up (stdio, process group, ...).
pub fn spawn(command: &mut Command) -> Result<Child, ProcessError> {
    command.spawn().map_err(|err| ProcessError {
        command: command_line(command),
        failure: Failure::Start(err),
    })
}

/// A child started with its output captured, to be waited for later (so
/// that several can run side by side).
pub struct Piped {
    pub child: Child,
    pub command: String,
}

/// Starts `command` with no stdin and its stdout and stderr captured.
pub fn spawn_piped(command: &mut Command) -> Result<Piped, ProcessError> {
    let child = spawn(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    Ok(Piped {
        child,
        command: command_line(command),
    })
}

impl Piped {
    /// Waits for the child; its output if it succeeded.
    pub fn finish(self) -> Result<Output, ProcessError> {
        let output = self.child.wait_with_output().map_err(|err| ProcessError {
            command: self.command.clone(),
            failure: Failure::Wait(err),
        })?;
        match ProcessError::check(self.command, output.status, &output.stdout, &output.stderr) {
            Some(err) => Err(err),
            None => Ok(output),
        }
    }
}

/// Runs `command` to its end with no stdin; its output if it succeeded.
pub fn output(command: &mut Command) -> Result<Output, ProcessError> {
    spawn_piped(command)?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_child_is_reported_with_its_command_status_and_stderr_tail() {
        let script = "echo starting; for i in $(seq 1 30); do echo line $i >&2; done; \
                      echo boom >&2; exit 3";
        let err = output(Command::new("sh").args(["-c", script])).unwrap_err();
        let Failure::Exit {
            status,
            stderr_tail,
            stdout_tail,
        } = &err.failure
        else {
            panic!("not an exit failure: {err:?}");
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(stderr_tail.len(), TAIL_LINES);
        assert_eq!(stderr_tail.last().unwrap(), "boom");
        assert_eq!(stderr_tail[0], "line 12");
        assert_eq!(stdout_tail, &["starting"]);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("`sh -c '{script}'` failed (exit status 3)")),
            "{message}"
        );
        assert!(
            message.contains("last lines of its stderr:\n  line 12\n"),
            "{message}"
        );
        assert!(message.ends_with("  boom\nlast lines of its stdout:\n  starting"));
        assert!(!err.not_started());
    }

    #[test]
    fn a_signal_killed_child_names_the_signal() {
        let err =
            output(Command::new("sh").args(["-c", "echo dying >&2; kill -9 $$"])).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("failed (killed by signal 9 (SIGKILL))"),
            "{message}"
        );
        assert!(message.contains("  dying"), "{message}");
    }

    #[test]
    fn a_missing_program_is_not_started() {
        let err = output(Command::new("/nonexistent/tool").arg("--version")).unwrap_err();
        assert!(err.not_started());
        let message = err.to_string();
        assert!(
            message.starts_with("cannot run `/nonexistent/tool --version`: "),
            "{message}"
        );
    }

    #[test]
    fn success_gives_the_output() {
        let out = output(Command::new("sh").args(["-c", "echo hi; echo note >&2"])).unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"note\n");
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        let err = output(Command::new("sh").args(["-c", "echo pw=hunter2 >&2; exit 1"]))
            .unwrap_err()
            .redact("hunter2");
        let message = err.to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("pw=[redacted]"), "{message}");
    }

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        let mut command = Command::new("java");
        command.args(["-cp", "/a/*", "it's", "", "a=b,c"]);
        assert_eq!(
            command_line(&command),
            r"java -cp '/a/*' 'it'\''s' '' a=b,c"
        );
    }
}
