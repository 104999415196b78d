//! Schedule arithmetic: slots in a time zone, one run per slot however often the operator
//! looks, a missed slot taken late only inside the starting deadline, daylight-saving days,
//! and the deterministic ShinyBackup names.

use jiff::{SignedDuration, Timestamp};
use shinydb_operator::crd::BackupSchedule;
use shinydb_operator::schedule::{Schedule, ScheduleError, backup_name};

fn schedule(cron: &str, zone: &str, deadline_secs: u64) -> Schedule {
    Schedule::parse(&BackupSchedule {
        name: "nightly".into(),
        cron: cron.into(),
        time_zone: zone.into(),
        suspend: false,
        starting_deadline: std::time::Duration::from_secs(deadline_secs).into(),
    })
    .expect("parses")
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

/// Looks at the schedule every `step` from `from` to `to`, as the reconciler would, keeping
/// the last run's slot as the status does; the slots it ran.
fn simulate(s: &Schedule, from: Timestamp, to: Timestamp, step: SignedDuration) -> Vec<Timestamp> {
    let mut since = from;
    let mut runs = Vec::new();
    let mut now = from;
    while now <= to {
        if let Some(slot) = s.due(since, now).run {
            runs.push(slot);
            since = slot;
        }
        now += step;
    }
    runs
}

#[test]
fn a_slot_runs_once_however_often_the_operator_looks() {
    let every_minute = schedule("* * * * *", "UTC", 3600);
    let due = every_minute.due(t("2026-12-02T10:00:30Z"), t("2026-12-02T10:01:05Z"));
    assert_eq!(due.run, Some(t("2026-12-02T10:01:00Z")));
    assert_eq!(due.next, Some(t("2026-12-02T10:02:00Z")));
    // Looked at again within the same minute, from the status the run wrote.
    let again = every_minute.due(t("2026-12-02T10:01:00Z"), t("2026-12-02T10:01:40Z"));
    assert_eq!(again.run, None);
    let runs = simulate(
        &every_minute,
        t("2026-12-02T10:00:00Z"),
        t("2026-12-02T11:00:00Z"),
        SignedDuration::from_secs(7),
    );
    // 10:01 … 10:59: the last look, at 10:59:56, is before 11:00; 10:00 is the start itself.
    let minutes: Vec<Timestamp> = (1..60)
        .map(|m| t("2026-12-02T10:00:00Z") + SignedDuration::from_mins(m))
        .collect();
    assert_eq!(runs, minutes);
}

#[test]
fn the_cron_fields_are_read_in_the_time_zone() {
    let paris = schedule("0 3 * * *", "Europe/Paris", 3600);
    // Winter: Paris is UTC+1.
    let due = paris.due(t("2026-12-01T12:00:00Z"), t("2026-12-02T02:00:10Z"));
    assert_eq!(due.run, Some(t("2026-12-02T02:00:00Z")));
    // Summer: UTC+2.
    let due = paris.due(t("2026-07-01T12:00:00Z"), t("2026-07-02T01:00:10Z"));
    assert_eq!(due.run, Some(t("2026-07-02T01:00:00Z")));
}

#[test]
fn a_missed_slot_is_taken_late_once_inside_the_deadline_and_never_after_it() {
    let daily = schedule("0 3 * * *", "UTC", 3 * 3600);
    // The operator was down from 01:00 to 05:00: 03:00 is 2 h late, inside 3 h.
    let due = daily.due(t("2026-12-01T03:00:00Z"), t("2026-12-02T05:00:00Z"));
    assert_eq!(due.run, Some(t("2026-12-02T03:00:00Z")));
    assert_eq!(due.missed, None);
    // Down for days: only the newest slot counts.
    let due = daily.due(t("2026-11-20T03:00:00Z"), t("2026-12-02T04:00:00Z"));
    assert_eq!(due.run, Some(t("2026-12-02T03:00:00Z")));
    // Past the deadline: missed, not run.
    let strict = schedule("0 3 * * *", "UTC", 3600);
    let due = strict.due(t("2026-12-01T03:00:00Z"), t("2026-12-02T05:00:00Z"));
    assert_eq!(due.run, None);
    assert_eq!(due.missed, Some(t("2026-12-02T03:00:00Z")));
    assert_eq!(due.next, Some(t("2026-12-03T03:00:00Z")));
}

#[test]
fn daylight_saving_days_run_a_daily_slot_exactly_once() {
    let half_past_two = schedule("30 2 * * *", "Europe/Paris", 3600);
    // 2026-03-29: 02:00 jumps to 03:00, so 02:30 never happens on the wall clock.
    let spring = simulate(
        &half_past_two,
        t("2026-03-28T22:00:00Z"),
        t("2026-03-29T21:59:00Z"),
        SignedDuration::from_secs(60),
    );
    assert_eq!(spring.len(), 1, "spring forward: {spring:?}");
    // 2026-10-25: 03:00 falls back to 02:00, so 02:30 happens twice on the wall clock.
    let autumn = simulate(
        &half_past_two,
        t("2026-10-24T22:00:00Z"),
        t("2026-10-25T22:59:00Z"),
        SignedDuration::from_secs(60),
    );
    assert_eq!(autumn.len(), 1, "fall back: {autumn:?}");
}

#[test]
fn a_bad_cron_or_time_zone_is_refused_naming_the_schedule() {
    let bad = |cron: &str, zone: &str| {
        Schedule::parse(&BackupSchedule {
            name: "nightly".into(),
            cron: cron.into(),
            time_zone: zone.into(),
            suspend: false,
            starting_deadline: std::time::Duration::from_secs(60).into(),
        })
        .expect_err("refused")
    };
    let e = bad("0 3 * *", "UTC");
    assert!(matches!(e, ScheduleError::Cron { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("spec.backup.schedules[nightly].cron \"0 3 * *\""),
        "{e}"
    );
    // Seconds are not a field of a backup schedule.
    assert!(matches!(
        bad("0 0 3 * * *", "UTC"),
        ScheduleError::Cron { .. }
    ));
    let e = bad("0 3 * * *", "Mars/Olympus");
    assert!(matches!(e, ScheduleError::TimeZone { .. }), "{e}");
    assert!(e.to_string().contains("Mars/Olympus"), "{e}");
}

#[test]
fn a_slots_backup_name_is_fixed_by_the_instance_schedule_and_utc_minute() {
    assert_eq!(
        backup_name("db", "nightly", t("2026-12-02T03:00:00Z")),
        "db-nightly-202612020300"
    );
}
