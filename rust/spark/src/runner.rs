//! One run of the streaming job: builds the `spark/submit.sh` command line,
//! runs it with its output captured in a run directory, follows the progress
//! file while it runs, and on failure explains Spark's log.
//!
//! A run directory `runs/<UTC stamp>/` holds `spark.log` (stdout and stderr
//! of the script, interleaved as written), `progress.jsonl` (written by the
//! PySpark job, one `StreamingQueryProgress` per line) and `summary.json`
//! (written here when the run ends, whichever way it ends).
//!
//! A streaming query runs until stopped, so the runner can stop it: after
//! [`SparkRun::stop_after`], or when this process gets SIGINT/SIGTERM (Ctrl-C),
//! it sends SIGINT to the job's process group, exactly what a Ctrl-C in a
//! terminal running `spark/submit.sh` would do. The script treats a first
//! INT/TERM as "stop the query after the running batch, write the final
//! results" and a second one as "kill it", so the next signal, SIGTERM, only
//! follows after a long grace period (or at once on a second Ctrl-C), and
//! SIGKILL one more grace period later. The job gets a process group of its
//! own so that a stop reaches the script and everything it started; the flip
//! side is that the terminal's Ctrl-C reaches only this process, which is why
//! it is caught and forwarded for the duration of the run.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::clock::{epoch_millis, run_stamp};
use crate::diagnose::{diagnose, find_ui_address, Diagnosis};
use crate::progress::{ProgressError, StreamingQueryProgress};
use crate::summary::{RunClock, RunSummary};
use crate::tail::LineTailer;
use sfcrime_process::interrupt::InterruptGuard;
use sfcrime_process::run::describe_status;

/// The launch script, relative to the repository root.
pub const SUBMIT_SCRIPT: &str = "spark/submit.sh";
/// Where run directories go, relative to the repository root.
pub const RUNS_DIR: &str = "runs";
pub const LOG_FILE: &str = "spark.log";
pub const PROGRESS_FILE: &str = "progress.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";

/// Separates spark-submit's flags from the job's own arguments on the
/// script's command line: `submit.sh [spark-submit flags] -- [job args]`.
pub const ARGS_SEPARATOR: &str = "--";
/// The job argument naming the progress file it must append to.
pub const PROGRESS_FLAG: &str = "--progress-file";

/// The files of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    pub dir: PathBuf,
    pub log: PathBuf,
    pub progress: PathBuf,
    /// The job's query lifecycle events.
    pub events: PathBuf,
    pub summary: PathBuf,
}

impl RunPaths {
    fn in_dir(dir: PathBuf) -> Self {
        RunPaths {
            log: dir.join(LOG_FILE),
            progress: dir.join(PROGRESS_FILE),
            // data_stream.py writes the query's lifecycle events (started,
            // terminated) beside the progress file, named after it.
            events: dir.join(format!("{PROGRESS_FILE}.events")),
            summary: dir.join(SUMMARY_FILE),
            dir,
        }
    }
}

/// Why the runner stopped the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// [`SparkRun::stop_after`] elapsed.
    Deadline,
    /// This process got SIGINT or SIGTERM.
    Interrupted,
}

/// What happens during a run, in order, for live display.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The script was spawned.
    Started { paths: &'a RunPaths, pid: u32 },
    /// Spark announced its application UI (at most once).
    UiAddress(&'a str),
    /// One progress event, as soon as its line is complete.
    Progress(&'a StreamingQueryProgress),
    /// A line of the progress file that is not a progress event; skipped.
    BadProgressLine {
        line: &'a str,
        error: &'a ProgressError,
    },
    /// The runner sent the job its first stop signal.
    Stopping(StopReason),
    /// The runner looked at the job again (every poll interval), whether or
    /// not anything above happened: a hook for checks of the caller's own.
    Polled,
}

/// A run that ended by itself with success, or that the runner stopped.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub paths: RunPaths,
    pub ui_address: Option<String>,
    pub summary: RunSummary,
    /// `None` when the job exited by itself.
    pub stopped: Option<StopReason>,
}

/// A run whose script exited unsuccessfully on its own.
#[derive(Debug, Clone)]
pub struct SparkFailure {
    pub status: ExitStatus,
    pub paths: RunPaths,
    /// Whatever progress was made before the failure.
    pub summary: RunSummary,
    pub diagnosis: Diagnosis,
}

impl fmt::Display for SparkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{SUBMIT_SCRIPT} failed ({}); full log: {}",
            describe_status(self.status),
            self.paths.log.display()
        )?;
        write!(f, "{}", self.diagnosis)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SparkRunError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Failed(Box<SparkFailure>),
    /// The script could not be started.
    #[error(transparent)]
    Start(#[from] sfcrime_process::ProcessError),
}

fn io_context(context: impl Into<String>) -> impl FnOnce(io::Error) -> SparkRunError {
    let context = context.into();
    move |source| SparkRunError::Io { context, source }
}

/// A configured run of `spark/submit.sh`.
#[derive(Debug, Clone)]
pub struct SparkRun {
    root: PathBuf,
    script: PathBuf,
    runs_dir: PathBuf,
    spark_args: Vec<OsString>,
    app_args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    poll_interval: Duration,
    stop_after: Option<Duration>,
    stop_grace: Duration,
    /// A run directory chosen by the caller (see [`SparkRun::run_dir`]).
    run_dir: Option<PathBuf>,
}

impl SparkRun {
    /// A run of `<root>/spark/submit.sh` writing to `<root>/runs/`, started
    /// in `root` so relative paths in arguments mean what they say there.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let root = std::path::absolute(&root).unwrap_or(root);
        SparkRun {
            script: root.join(SUBMIT_SCRIPT),
            runs_dir: root.join(RUNS_DIR),
            root,
            spark_args: Vec::new(),
            app_args: Vec::new(),
            envs: Vec::new(),
            poll_interval: Duration::from_millis(250),
            stop_after: None,
            // data_stream.py waits up to 60 s for a running batch, then
            // finalises; a second signal would kill it mid-way.
            stop_grace: Duration::from_secs(120),
            run_dir: None,
        }
    }

    /// Uses `dir` (made by [`new_run_dir`]) as this run's directory, so the
    /// caller can point the job's checkpoint and output inside it.
    pub fn run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// Runs another script in place of `spark/submit.sh` (relative to root).
    pub fn script(mut self, script: impl AsRef<Path>) -> Self {
        self.script = self.root.join(script);
        self
    }

    /// Puts run directories under `dir` (relative to root) instead of `runs/`.
    pub fn runs_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.runs_dir = self.root.join(dir);
        self
    }

    /// `--master <url>` for spark-submit.
    pub fn master(self, url: &str) -> Self {
        self.spark_arg("--master").spark_arg(url)
    }

    /// `--conf key=value` for spark-submit.
    pub fn conf(self, key: &str, value: &str) -> Self {
        self.spark_arg("--conf").spark_arg(format!("{key}={value}"))
    }

    /// Any other spark-submit flag or flag value, in order.
    pub fn spark_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.spark_args.push(arg.into());
        self
    }

    /// An argument for the job itself (`data_stream.py`), in order.
    pub fn app_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.app_args.push(arg.into());
        self
    }

    /// An environment variable for the script, on top of this process's.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Stops the job this long after launch (a streaming query never ends
    /// by itself).
    pub fn stop_after(mut self, after: Duration) -> Self {
        self.stop_after = Some(after);
        self
    }

    /// How often the progress file and the log are read.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// How long each stop signal is given before the next, harsher one
    /// (default 120 s, room for `data_stream.py`'s graceful stop).
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// The script's arguments for a run writing progress to `progress`:
    /// spark-submit flags, the separator, the job's arguments, then the
    /// progress flag. The calling convention of `spark/submit.sh` lives here
    /// and in the constants above, nowhere else.
    pub fn submit_args(&self, progress: &Path) -> Vec<OsString> {
        let mut args = self.spark_args.clone();
        args.push(ARGS_SEPARATOR.into());
        args.extend(self.app_args.iter().cloned());
        args.push(PROGRESS_FLAG.into());
        args.push(progress.into());
        args
    }

    /// Runs the job to its end, calling `on_event` as it goes. `Ok` when the
    /// script exits successfully or the runner stopped it; a script that
    /// fails by itself is [`SparkRunError::Failed`] with the relevant log
    /// lines. `summary.json` is written in every case once the job has run.
    pub fn run(&self, mut on_event: impl FnMut(RunEvent<'_>)) -> Result<RunOutcome, SparkRunError> {
        if !self.script.is_file() {
            return Err(SparkRunError::Io {
                context: format!("cannot run {}", self.script.display()),
                source: io::Error::new(io::ErrorKind::NotFound, "no such script"),
            });
        }
        let launched_at = SystemTime::now();
        let paths = match &self.run_dir {
            Some(dir) => RunPaths::in_dir(dir.clone()),
            None => create_run_dir(&self.runs_dir, epoch_millis(launched_at))?,
        };
        let log = File::create(&paths.log)
            .map_err(io_context(format!("creating {}", paths.log.display())))?;
        let log_for_stderr = log
            .try_clone()
            .map_err(io_context("duplicating the log file handle"))?;

        let mut command = Command::new("bash");
        command
            .arg(&self.script)
            .args(self.submit_args(&paths.progress))
            .current_dir(&self.root)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr)
            .process_group(0);
        let interrupts = InterruptGuard::install();
        let mut job = Job(sfcrime_process::spawn(&mut command)?);
        let started = Instant::now();
        on_event(RunEvent::Started {
            paths: &paths,
            pid: job.0.id(),
        });

        let mut watch = Watch {
            progress: LineTailer::new(&paths.progress),
            log: LineTailer::new(&paths.log),
            events: Vec::new(),
            ui_address: None,
        };
        let mut stopping: Option<Stopping> = None;
        let status = loop {
            watch.poll(&mut on_event, false)?;
            if let Some(status) = job
                .0
                .try_wait()
                .map_err(io_context("waiting for the Spark job"))?
            {
                break status;
            }
            if let Some(stop) = stopping.as_mut() {
                stop.escalate(&job.0, self.stop_grace, interrupts.count());
            } else {
                // Counted before the callback runs, so that an interrupt
                // arriving during it counts as the second one.
                let seen = interrupts.count();
                if let Some(reason) = self.stop_reason(seen, started) {
                    stopping = Some(Stopping::begin(&job.0, reason, seen));
                    on_event(RunEvent::Stopping(reason));
                }
            }
            on_event(RunEvent::Polled);
            std::thread::sleep(self.poll_interval);
        };
        drop(interrupts);
        watch.poll(&mut on_event, true)?;

        let summary = RunSummary::from_progress(
            &watch.events,
            RunClock {
                launched_at_ms: Some(epoch_millis(launched_at)),
                wall_ms: None,
            },
        );
        let json = serde_json::to_string_pretty(&summary).expect("a summary always serialises");
        fs::write(&paths.summary, json + "\n")
            .map_err(io_context(format!("writing {}", paths.summary.display())))?;

        let stopped = stopping.map(|s| s.reason);
        if status.success() || stopped.is_some() {
            return Ok(RunOutcome {
                paths,
                ui_address: watch.ui_address,
                summary,
                stopped,
            });
        }
        let log_text =
            fs::read(&paths.log).map_err(io_context(format!("reading {}", paths.log.display())))?;
        Err(SparkRunError::Failed(Box::new(SparkFailure {
            status,
            diagnosis: diagnose(&String::from_utf8_lossy(&log_text)),
            paths,
            summary,
        })))
    }
}

impl SparkRun {
    /// Whether the job should be stopped now, and why.
    fn stop_reason(&self, interrupts: usize, started: Instant) -> Option<StopReason> {
        if interrupts > 0 {
            Some(StopReason::Interrupted)
        } else if self
            .stop_after
            .is_some_and(|after| started.elapsed() >= after)
        {
            Some(StopReason::Deadline)
        } else {
            None
        }
    }
}

/// Creates `runs_dir/<stamp>`, or `<stamp>-2`, ... when runs start within
/// the same second, so no run overwrites another.
/// Creates a fresh `<runs_dir>/<UTC stamp>` directory for [`SparkRun::run_dir`].
pub fn new_run_dir(runs_dir: &Path) -> Result<PathBuf, SparkRunError> {
    Ok(create_run_dir(runs_dir, epoch_millis(SystemTime::now()))?.dir)
}

fn create_run_dir(runs_dir: &Path, now_ms: i64) -> Result<RunPaths, SparkRunError> {
    fs::create_dir_all(runs_dir).map_err(io_context(format!("creating {}", runs_dir.display())))?;
    let stamp = run_stamp(now_ms);
    for n in 1.. {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = runs_dir.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(RunPaths::in_dir(dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_context(format!("creating {}", dir.display()))(e)),
        }
    }
    unreachable!("the run directory loop only ends by returning")
}

/// What the run loop follows: the progress file and, until the UI address
/// shows up, the log.
struct Watch {
    progress: LineTailer,
    log: LineTailer,
    events: Vec<StreamingQueryProgress>,
    ui_address: Option<String>,
}

impl Watch {
    /// Reads what was appended; `last` also takes unterminated final lines,
    /// for after the job has exited.
    fn poll(
        &mut self,
        on_event: &mut impl FnMut(RunEvent<'_>),
        last: bool,
    ) -> Result<(), SparkRunError> {
        if self.ui_address.is_none() {
            let lines = if last {
                self.log.finish()
            } else {
                self.log.poll()
            };
            let lines =
                lines.map_err(io_context(format!("reading {}", self.log.path().display())))?;
            if let Some(address) = lines.iter().find_map(|l| find_ui_address(l)) {
                on_event(RunEvent::UiAddress(&address));
                self.ui_address = Some(address);
            }
        }
        let lines = if last {
            self.progress.finish()
        } else {
            self.progress.poll()
        };
        let lines = lines.map_err(io_context(format!(
            "reading {}",
            self.progress.path().display()
        )))?;
        for line in lines.iter().filter(|l| !l.trim().is_empty()) {
            match StreamingQueryProgress::from_json(line) {
                Ok(progress) => {
                    self.events.push(progress);
                    on_event(RunEvent::Progress(self.events.last().expect("just pushed")));
                }
                Err(error) => on_event(RunEvent::BadProgressLine {
                    line,
                    error: &error,
                }),
            }
        }
        Ok(())
    }
}

/// The running script. Should the run end early (an I/O error, a panic in
/// the callback), dropping it kills the job rather than leaving a Spark
/// application running with nobody watching it.
struct Job(Child);

impl Drop for Job {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            signal_group(&self.0, libc::SIGKILL);
            let _ = self.0.wait();
        }
    }
}

/// Signals sent to the job's process group, in order, one grace period apart.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGKILL];

/// A stop in progress: which signal was sent last, and when.
struct Stopping {
    reason: StopReason,
    sent: usize,
    at: Instant,
    /// Interrupts of this process seen when the last signal went out.
    interrupts: usize,
}

impl Stopping {
    fn begin(child: &Child, reason: StopReason, interrupts: usize) -> Self {
        signal_group(child, STOP_SIGNALS[0]);
        Stopping {
            reason,
            sent: 0,
            at: Instant::now(),
            interrupts,
        }
    }

    /// Sends the next signal once the grace period is over, or at once when
    /// the user interrupted again (a second Ctrl-C means "now").
    fn escalate(&mut self, child: &Child, grace: Duration, interrupts: usize) {
        let impatient = interrupts > self.interrupts;
        if self.sent + 1 < STOP_SIGNALS.len() && (impatient || self.at.elapsed() >= grace) {
            self.sent += 1;
            self.at = Instant::now();
            self.interrupts = interrupts;
            signal_group(child, STOP_SIGNALS[self.sent]);
        }
    }
}

fn signal_group(child: &Child, signal: libc::c_int) {
    // The child leads its own process group (process_group(0)), so its pid
    // is the group id; the group is the script and everything it started.
    // The child has not been reaped (try_wait said it is running), so the id
    // cannot have been reused. A failure means the group is already gone.
    let _ = sfcrime_process::signal_group(child.id(), signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_args_split_spark_flags_from_job_args() {
        let run = SparkRun::new("/repo")
            .master("local[2]")
            .conf("spark.sql.shuffle.partitions", "4")
            .spark_arg("--packages")
            .spark_arg("org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0")
            .app_arg("--topic")
            .app_arg("sf.police.calls");
        let args = run.submit_args(Path::new("/repo/runs/x/progress.jsonl"));
        assert_eq!(
            args,
            [
                "--master",
                "local[2]",
                "--conf",
                "spark.sql.shuffle.partitions=4",
                "--packages",
                "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0",
                "--",
                "--topic",
                "sf.police.calls",
                "--progress-file",
                "/repo/runs/x/progress.jsonl",
            ]
        );
    }

    #[test]
    fn paths_are_anchored_at_the_root() {
        let run = SparkRun::new("/repo");
        assert_eq!(run.script, Path::new("/repo/spark/submit.sh"));
        assert_eq!(run.runs_dir, Path::new("/repo/runs"));
        let run = run.script("other.sh").runs_dir("/elsewhere/runs");
        assert_eq!(run.script, Path::new("/repo/other.sh"));
        assert_eq!(run.runs_dir, Path::new("/elsewhere/runs"));
    }

    #[test]
    fn run_dirs_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let first = create_run_dir(&runs, 0).unwrap();
        let second = create_run_dir(&runs, 999).unwrap();
        assert_eq!(first.dir, runs.join("19700101T000000Z"));
        assert_eq!(second.dir, runs.join("19700101T000000Z-2"));
        assert_eq!(second.log, second.dir.join("spark.log"));
        assert_eq!(second.progress, second.dir.join("progress.jsonl"));
        assert_eq!(second.summary, second.dir.join("summary.json"));
    }
}
