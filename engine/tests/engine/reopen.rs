//! Opening a directory twice: refused while it is open, allowed again at once after closing,
//! even while another thread of the same process is starting child processes (which briefly
//! hold copies of every open file, the directory's lock among them).

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

use shinydb_engine::{Db, Error, Options};

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

#[test]
fn an_open_directory_is_refused_and_the_first_handle_keeps_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    db.create_space("s").expect("space");
    match Db::open(dir.path(), Options::default()) {
        Err(Error::Locked { dir: locked }) => assert_eq!(locked, dir.path()),
        Err(e) => panic!("wrong error for a second open: {e}"),
        Ok(_) => panic!("a second open of an open directory succeeded"),
    }
    db.create_store("s", "t")
        .expect("the first handle still writes");
    drop(db);
    let db = Db::open(dir.path(), Options::default()).expect("reopen after close");
    let stores = db.snapshot().stores("s").expect("the space survived");
    assert_eq!(stores.len(), 1, "the store survived: {stores:?}");
}
