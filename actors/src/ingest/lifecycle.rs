//! The life of a source's ffmpeg runs as one state machine: stopped, starting (spawned, no
//! fragment yet), running, ending (told to exit, with what follows the exit), and backing
//! off after a failure. It holds the child itself, so "is there a child" and "what state
//! are we in" cannot disagree, and it does no I/O beyond killing that child: the pipeline
//! actor spawns children and arms timers when a method returns a [`Step`].
//!
//! Generic over the child so the rules can be tested without ffmpeg.

use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::status::IngestState;

/// What the lifecycle needs of a running child.
pub trait Child {
    /// Asks the child to end; its exit is reported later through [`Lifecycle::exited`].
    fn kill(&self);
}

/// What the owner of the lifecycle must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// Spawn a child now and hand it to [`Lifecycle::launch`].
    Spawn,
    /// Call [`Lifecycle::retry_due`] with `token` after `delay`.
    RetryIn {
        delay: Duration,
        token: u64,
    },
}

/// What follows a child's exit it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Stop,
    Restart,
}

/// Where the runs are.
#[derive(Debug)]
pub enum Phase<C> {
    Stopped,
    /// Spawned, no fragment yet.
    Starting {
        child: C,
    },
    /// Delivering fragments since `since`.
    Running {
        child: C,
        since: Instant,
    },
    /// Told to exit; `was` is what it reports until the exit arrives.
    Ending {
        child: C,
        then: Then,
        was: IngestState,
    },
    /// Failed; the retry armed with `token` starts the next run.
    Backoff {
        token: u64,
    },
}

#[derive(Debug)]
pub struct Lifecycle<C> {
    phase: Phase<C>,
    /// Numbers runs so that reports from an older child are ignored.
    run: u64,
    restarts: u64,
    retries_armed: u64,
    last_error: Option<String>,
    last_progress: Instant,
    backoff: Backoff,
}

impl<C: Child> Lifecycle<C> {
    pub fn new(backoff: Backoff) -> Self {
        Self {
            phase: Phase::Stopped,
            run: 0,
            restarts: 0,
            retries_armed: 0,
            last_error: None,
            last_progress: Instant::now(),
            backoff,
        }
    }

    /// The state to report.
    pub fn state(&self) -> IngestState {
        match &self.phase {
            Phase::Stopped => IngestState::Stopped,
            Phase::Starting { .. } => IngestState::Starting,
            Phase::Running { .. } => IngestState::Running,
            Phase::Ending { was, .. } => *was,
            Phase::Backoff { .. } => IngestState::Backoff,
        }
    }

    /// A run is wanted: running, about to run, or waiting to run again.
    pub fn is_wanted(&self) -> bool {
        !matches!(
            self.phase,
            Phase::Stopped
                | Phase::Ending {
                    then: Then::Stop,
                    ..
                }
        )
    }

    pub fn child(&self) -> Option<&C> {
        match &self.phase {
            Phase::Starting { child }
            | Phase::Running { child, .. }
            | Phase::Ending { child, .. } => Some(child),
            Phase::Stopped | Phase::Backoff { .. } => None,
        }
    }

    /// The number of the current (or next) run, for matching reports.
    pub fn run(&self) -> u64 {
        self.run
    }

    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Remembers what the child said last (shown when it fails).
    pub fn note_error(&mut self, error: String) {
        self.last_error = Some(error);
    }

    /// Someone wants the source: start it (afresh on the back-off ladder) unless it runs.
    pub fn start(&mut self) -> Step {
        self.backoff.reset();
        match &mut self.phase {
            Phase::Stopped | Phase::Backoff { .. } => Step::Spawn,
            Phase::Ending { then, .. } => {
                *then = Then::Restart;
                Step::Nothing
            }
            Phase::Starting { .. } | Phase::Running { .. } => Step::Nothing,
        }
    }

    /// Nobody wants the source: end the child, or stop waiting to retry.
    pub fn stop(&mut self) {
        self.end_child(Then::Stop);
        if matches!(self.phase, Phase::Backoff { .. }) {
            self.phase = Phase::Stopped;
        }
    }

    /// An admin's restart: a new run now, on a fresh back-off ladder.
    pub fn restart(&mut self) -> Step {
        self.backoff.reset();
        self.replace()
    }

    /// A new run with other settings (say, transcoding); the ladder stays where it is.
    pub fn replace(&mut self) -> Step {
        if self.end_child(Then::Restart) {
            Step::Nothing
        } else {
            Step::Spawn
        }
    }

    /// Tells a child to end (if there is one) and records what follows its exit.
    fn end_child(&mut self, next: Then) -> bool {
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Starting { child } => self.ending(child, next, IngestState::Starting),
            Phase::Running { child, .. } => self.ending(child, next, IngestState::Running),
            Phase::Ending { child, was, .. } => {
                self.phase = Phase::Ending {
                    child,
                    then: next,
                    was,
                };
                true
            }
            other => {
                self.phase = other;
                false
            }
        }
    }

    fn ending(&mut self, child: C, then: Then, was: IngestState) -> bool {
        child.kill();
        self.phase = Phase::Ending { child, then, was };
        true
    }

    /// The number the next child must report with.
    pub fn next_run(&self) -> u64 {
        self.run + 1
    }

    /// The outcome of spawning the child numbered [`Lifecycle::next_run`].
    pub fn launch(&mut self, spawned: Result<C, String>, now: Instant) -> Step {
        self.run += 1;
        self.last_progress = now;
        match spawned {
            Ok(child) => {
                self.phase = Phase::Starting { child };
                Step::Nothing
            }
            Err(error) => self.fail(error, Duration::ZERO),
        }
    }

    /// A fragment from run `run`; `true` when the run just went live.
    pub fn fragment(&mut self, run: u64, now: Instant) -> bool {
        if run != self.run {
            return false;
        }
        self.last_progress = now;
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Starting { child } => {
                self.phase = Phase::Running { child, since: now };
                // Video flowed: the next failure starts the ladder from its first step.
                self.backoff.reset();
                true
            }
            other => {
                self.phase = other;
                false
            }
        }
    }

    /// Run `run`'s child exited with `status`.
    pub fn exited(&mut self, run: u64, status: &str, now: Instant) -> Step {
        if run != self.run {
            return Step::Nothing;
        }
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Ending {
                then: Then::Stop, ..
            } => Step::Nothing,
            Phase::Ending {
                then: Then::Restart,
                ..
            } => Step::Spawn,
            Phase::Running { since, .. } => {
                let error = self.exit_error(status);
                self.fail(error, now.saturating_duration_since(since))
            }
            Phase::Starting { .. } => {
                let error = self.exit_error(status);
                self.fail(error, Duration::ZERO)
            }
            other => {
                self.phase = other;
                Step::Nothing
            }
        }
    }

    fn exit_error(&self, status: &str) -> String {
        self.last_error
            .clone()
            .unwrap_or_else(|| format!("ffmpeg exited ({status})"))
    }

    /// The retry armed with `token` is due.
    pub fn retry_due(&mut self, token: u64) -> Step {
        match self.phase {
            Phase::Backoff { token: armed } if armed == token => Step::Spawn,
            _ => Step::Nothing,
        }
    }

    /// A child that has sent nothing for `limit` is killed; its exit counts as a failure.
    /// Returns `true` when it was.
    pub fn check_stall(&mut self, now: Instant, limit: Duration) -> bool {
        let child = match &self.phase {
            Phase::Starting { child } | Phase::Running { child, .. } => child,
            _ => return false,
        };
        if now.saturating_duration_since(self.last_progress) <= limit {
            return false;
        }
        child.kill();
        self.last_error = Some(format!("no progress for {} s", limit.as_secs_f32()));
        // The exit report restarts it; do not kill again meanwhile.
        self.last_progress = now;
        true
    }

    fn fail(&mut self, error: String, ran_for: Duration) -> Step {
        self.restarts += 1;
        self.last_error = Some(error);
        self.retries_armed += 1;
        let token = self.retries_armed;
        self.phase = Phase::Backoff { token };
        Step::RetryIn {
            delay: self.backoff.next_delay(ran_for),
            token,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    /// A child that counts the kills it was sent.
    #[derive(Debug, Default, Clone)]
    struct Fake(Rc<Cell<u32>>);

    impl Child for Fake {
        fn kill(&self) {
            self.0.set(self.0.get() + 1);
        }
    }

    fn started() -> (Lifecycle<Fake>, Fake, Instant) {
        let mut life = Lifecycle::new(Backoff::default());
        let now = Instant::now();
        assert_eq!(life.start(), Step::Spawn);
        let child = Fake::default();
        assert_eq!(life.launch(Ok(child.clone()), now), Step::Nothing);
        (life, child, now)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_started_run_is_starting_until_its_first_fragment() {
        let (mut life, _, now) = started();
        assert_eq!(life.state(), IngestState::Starting);
        assert!(life.fragment(life.run(), now));
        assert_eq!(life.state(), IngestState::Running);
        assert!(!life.fragment(life.run(), now), "live only once");
    }

    #[test]
    fn a_failed_run_backs_off_and_its_retry_spawns_again() {
        let (mut life, _, now) = started();
        let step = life.exited(life.run(), "exit status: 1", now);
        let Step::RetryIn { delay, token } = step else {
            panic!("{step:?}")
        };
        assert_eq!(delay, secs(1));
        assert_eq!(life.state(), IngestState::Backoff);
        assert_eq!(life.restarts(), 1);
        assert_eq!(life.last_error(), Some("ffmpeg exited (exit status: 1)"));
        assert_eq!(life.retry_due(token), Step::Spawn);
    }

    #[test]
    fn repeated_failures_climb_the_ladder() {
        let (mut life, _, now) = started();
        let mut delays = Vec::new();
        for _ in 0..3 {
            if let Step::RetryIn { delay, .. } = life.exited(life.run(), "1", now) {
                delays.push(delay);
            }
            life.launch(Ok(Fake::default()), now);
        }
        assert_eq!(delays, [secs(1), secs(2), secs(5)]);
    }

    #[test]
    fn a_run_that_went_live_starts_the_ladder_again() {
        let (mut life, _, now) = started();
        life.exited(life.run(), "1", now);
        life.launch(Ok(Fake::default()), now);
        life.fragment(life.run(), now);
        let step = life.exited(life.run(), "1", now + secs(3));
        assert!(matches!(step, Step::RetryIn { delay, .. } if delay == secs(1)));
    }

    #[test]
    fn a_stop_kills_the_child_and_its_exit_ends_in_stopped() {
        let (mut life, child, now) = started();
        life.fragment(life.run(), now);
        life.stop();
        assert_eq!(child.0.get(), 1);
        assert!(!life.is_wanted());
        assert_eq!(life.state(), IngestState::Running, "until the exit arrives");
        assert_eq!(life.exited(life.run(), "killed", now), Step::Nothing);
        assert_eq!(life.state(), IngestState::Stopped);
        assert!(life.child().is_none());
        assert_eq!(life.restarts(), 0, "a stop is no failure");
    }

    #[test]
    fn a_stop_while_backing_off_cancels_the_retry() {
        let (mut life, _, now) = started();
        let Step::RetryIn { token, .. } = life.exited(life.run(), "1", now) else {
            panic!()
        };
        life.stop();
        assert_eq!(life.state(), IngestState::Stopped);
        assert_eq!(life.retry_due(token), Step::Nothing);
    }

    #[test]
    fn a_start_during_back_off_spawns_now_and_the_old_retry_is_void() {
        let (mut life, _, now) = started();
        let Step::RetryIn { token, .. } = life.exited(life.run(), "1", now) else {
            panic!()
        };
        assert_eq!(life.start(), Step::Spawn);
        life.launch(Ok(Fake::default()), now);
        assert_eq!(life.retry_due(token), Step::Nothing);
    }

    #[test]
    fn a_restart_replaces_the_child_without_counting_a_failure() {
        let (mut life, child, now) = started();
        assert_eq!(life.restart(), Step::Nothing);
        assert_eq!(child.0.get(), 1);
        assert!(life.is_wanted());
        assert_eq!(life.exited(life.run(), "killed", now), Step::Spawn);
        assert_eq!(life.restarts(), 0);
    }

    #[test]
    fn a_restart_with_no_child_spawns_at_once() {
        let mut life: Lifecycle<Fake> = Lifecycle::new(Backoff::default());
        assert_eq!(life.restart(), Step::Spawn);
    }

    #[test]
    fn a_start_while_ending_turns_the_stop_into_a_restart() {
        let (mut life, _, now) = started();
        life.stop();
        assert_eq!(life.start(), Step::Nothing);
        assert_eq!(life.exited(life.run(), "killed", now), Step::Spawn);
    }

    #[test]
    fn reports_from_an_older_run_are_ignored() {
        let (mut life, _, now) = started();
        let old = life.run();
        life.replace();
        life.exited(old, "killed", now);
        life.launch(Ok(Fake::default()), now);
        assert_eq!(life.exited(old, "1", now), Step::Nothing);
        assert!(!life.fragment(old, now));
        assert_eq!(life.state(), IngestState::Starting);
    }

    #[test]
    fn a_spawn_that_fails_backs_off() {
        let mut life: Lifecycle<Fake> = Lifecycle::new(Backoff::default());
        life.start();
        let step = life.launch(Err("no ffmpeg".into()), Instant::now());
        assert!(matches!(step, Step::RetryIn { .. }));
        assert_eq!(life.last_error(), Some("no ffmpeg"));
    }

    #[test]
    fn a_silent_child_is_killed_once_and_its_exit_is_a_failure() {
        let (mut life, child, now) = started();
        assert!(!life.check_stall(now + secs(5), secs(10)));
        assert!(life.check_stall(now + secs(11), secs(10)));
        assert!(!life.check_stall(now + secs(12), secs(10)), "killed once");
        assert_eq!(child.0.get(), 1);
        assert!(matches!(
            life.exited(life.run(), "killed", now + secs(12)),
            Step::RetryIn { .. }
        ));
        assert_eq!(life.last_error(), Some("no progress for 10 s"));
    }

    #[test]
    fn fragments_keep_a_child_from_counting_as_stalled() {
        let (mut life, child, now) = started();
        life.fragment(life.run(), now + secs(8));
        assert!(!life.check_stall(now + secs(15), secs(10)));
        assert_eq!(child.0.get(), 0);
    }
}
