//! Closing and reopening: a closed engine's directory opens again at once, even while another
//! thread of the same process is starting child processes (which briefly hold copies of every
//! open file, the directory's lock among them).

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

use shinydb_engine::{Db, Options};

#[test]
fn a_closed_directory_reopens_while_children_are_spawned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                Command::new("true").status().expect("spawn true");
            }
        })
    };
    let mut result = Ok(());
    for round in 0..300 {
        match Db::open(dir.path(), Options::default()) {
            Ok(db) => drop(db),
            Err(e) => {
                result = Err(format!("round {round}: {e}"));
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    spawner.join().expect("spawner");
    result.expect("reopen");
}
