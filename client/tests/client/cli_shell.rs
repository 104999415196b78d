//! `shinydb shell` fed from standard input: YQL (also over several lines), dot-commands,
//! `.help`, errors that do not end the shell, history kept in a file.

use crate::common::{Connect, admin_cli, run, server};

#[test]
fn shell_runs_queries_and_dot_commands() {
    let s = server();
    assert_eq!(admin_cli(&s, &["space", "create", "zoo"]).0, 0);
    let script = "\
.help
.store create zoo.animals
zoo.animals.insert([
  {_id: 1, name: \"otter\", legs: 4},
  {_id: 2, name: \"heron\", legs: 2}
])
.output json
zoo.animals.filter(legs > 2).pluck(name)
zoo.animals.filter(legs >)
.store list zoo
.nonsense
zoo.animals.count()
.quit
zoo.animals.delete()
";
    let mut c = s.admin_cli();
    c.arg("shell");
    let o = run(c, script);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("Dot-commands"), "help: {out}");
    assert!(out.contains("created store zoo.animals"), "{out}");
    assert!(
        out.contains("{\"inserted\":2,\"ids\":[1,2]}") || out.contains("inserted"),
        "{out}"
    );
    assert!(out.contains("[{\"name\":\"otter\"}]"), "{out}");
    assert!(out.contains("animals"), "{out}");
    assert!(out.contains("{\"count\":2}"), "{out}");
    assert!(
        err.contains('^'),
        "the query error is printed and the shell goes on: {err}"
    );
    assert!(err.contains("nonsense"), "{err}");
    // The history is kept in the file SHINYDB_HISTORY names, multi-line entries whole.
    let history = std::fs::read_to_string(s.dir.path().join("history")).expect("history file");
    assert!(history.contains("zoo.animals.count()"), "{history}");
    assert!(history.contains("heron"), "{history}");
    // `.quit` stopped before the delete.
    assert_eq!(
        admin_cli(&s, &["query", "zoo.animals.count()"]).1.trim(),
        "{\"count\":2}"
    );
}
