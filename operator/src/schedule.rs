//! Backup schedules, pure: when a schedule's next run is due, from the slot of its last run
//! (kept in the ShinyDB's status, never in memory) and the time now. CronJob's semantics: a
//! 5-field cron read in an IANA time zone; of the slots missed since the last run only the
//! newest is taken, and only while it is less than `startingDeadline` old.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::crd::BackupSchedule;

/// A schedule the operator cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error(
        "spec.backup.schedules[{name}].cron {cron:?}: {reason} (5 fields: minute hour day-of-month month day-of-week)"
    )]
    Cron {
        /// The schedule.
        name: String,
        /// The expression.
        cron: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The time zone is not an IANA name.
    #[error(
        "spec.backup.schedules[{name}].timeZone {zone:?} is not an IANA time zone such as Europe/Paris: {reason}"
    )]
    TimeZone {
        /// The schedule.
        name: String,
        /// The zone as given.
        zone: String,
        /// Why.
        reason: String,
    },
}

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    zone: TimeZone,
    deadline: SignedDuration,
}

/// What a schedule asks for at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// A slot to run now (the newest one since the last run, inside the deadline).
    pub run: Option<Timestamp>,
    /// A slot that came and went past its deadline without a run.
    pub missed: Option<Timestamp>,
    /// The first slot after now.
    pub next: Option<Timestamp>,
}

impl Schedule {
    /// Parses `spec`'s cron and time zone.
    pub fn parse(spec: &BackupSchedule) -> Result<Schedule, ScheduleError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&spec.cron)
            .map_err(|e| ScheduleError::Cron {
                name: spec.name.clone(),
                cron: spec.cron.clone(),
                reason: e.to_string(),
            })?;
        let zone = TimeZone::get(&spec.time_zone).map_err(|e| ScheduleError::TimeZone {
            name: spec.name.clone(),
            zone: spec.time_zone.clone(),
            reason: e.to_string(),
        })?;
        let deadline = SignedDuration::try_from(std::time::Duration::from(spec.starting_deadline))
            .unwrap_or(SignedDuration::MAX);
        Ok(Schedule {
            cron,
            zone,
            deadline,
        })
    }

    /// At `now`, with the last run's slot (or the moment counting started) `since`.
    pub fn due(&self, since: Timestamp, now: Timestamp) -> Due {
        let here = now.to_zoned(self.zone.clone());
        let latest = self
            .cron
            .find_previous_occurrence(&here, true)
            .ok()
            .map(|z| z.timestamp())
            .filter(|t| *t > since);
        let (run, missed) = match latest {
            Some(t) if now.duration_since(t) <= self.deadline => (Some(t), None),
            Some(t) => (None, Some(t)),
            None => (None, None),
        };
        let next = self
            .cron
            .find_next_occurrence(&here, false)
            .ok()
            .map(|z| z.timestamp());
        Due { run, missed, next }
    }
}

/// The ShinyBackup a run of `schedule` of `instance` at `slot` creates: the same name for
/// the same slot, so a repeated attempt (an operator restart, a lost status write) finds it
/// exists instead of taking a second backup.
pub fn backup_name(instance: &str, schedule: &str, slot: Timestamp) -> String {
    format!("{instance}-{schedule}-{}", slot.strftime("%Y%m%d%H%M"))
}
