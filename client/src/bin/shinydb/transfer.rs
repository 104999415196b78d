//! `import` and `export`.

use std::{
    fs::File,
    io::{BufRead, BufReader, IsTerminal, Read, Write},
    path::Path,
};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use shinydb_client::{
    Client, Error,
    bson::{Bson, Document},
};
use tonic::Code;

use crate::{
    cli::Format,
    error::{CliError, CliResult},
};

/// A JSON value as a document, keeping extended-JSON types (`{"$oid": ...}`, dates, ...).
fn to_document(v: Value) -> Result<Document, String> {
    match Bson::try_from(v) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(other) => Err(format!("expected a JSON object, found {other}")),
        Err(e) => Err(format!("not a valid document: {e}")),
    }
}

/// Creates the space and the store unless they exist.
async fn ensure_store(c: &Client, space: &str, store: &str) -> CliResult<()> {
    let exists = |r: Result<(), Error>| match r {
        Ok(())
        | Err(Error::Server {
            code: Code::AlreadyExists,
            ..
        }) => Ok(()),
        Err(e) => Err(e),
    };
    if !c.list_spaces().await?.iter().any(|s| s.name == space) {
        exists(c.create_space(space).await)?;
    }
    if !c.list_stores(space).await?.iter().any(|s| s.name == store) {
        exists(c.create_store(space, store).await)?;
    }
    Ok(())
}

/// A byte-count bar on a terminal (hidden otherwise).
pub fn progress(total_bytes: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40.cyan/blue} {bytes}/{total_bytes} {msg} ({eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Imports `file` into `space.store` in atomic batches of `batch` documents; returns the count.
/// A bad line stops the import before its batch is sent: the batches before it stay imported,
/// nothing of its own batch is.
pub async fn import(
    c: &Client,
    space: &str,
    store: &str,
    file: &Path,
    format: Option<Format>,
    batch: usize,
) -> CliResult<u64> {
    let f = File::open(file)
        .map_err(|e| CliError::Input(format!("cannot open {}: {e}", file.display())))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let format = format.unwrap_or(
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Format::Json
        } else {
            Format::Ndjson
        },
    );
    ensure_store(c, space, store).await?;
    let bar = progress(size);
    let reader = BufReader::new(Counting {
        inner: f,
        bar: bar.clone(),
    });
    let target = c.store(space, store);
    let mut imported: u64 = 0;
    let mut pending: Vec<Document> = Vec::with_capacity(batch);
    let stop = |imported: u64, what: String| {
        CliError::Input(format!(
            "{}: {what}; imported {imported} documents before it, nothing of its batch",
            file.display()
        ))
    };
    match format {
        Format::Ndjson => {
            for (i, line) in reader.lines().enumerate() {
                let n = i + 1;
                let line = line.map_err(|e| stop(imported, format!("line {n}: {e}")))?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&line)
                    .map_err(|e| stop(imported, format!("line {n}: {e}")))?;
                let d = to_document(v).map_err(|e| stop(imported, format!("line {n}: {e}")))?;
                pending.push(d);
                if pending.len() >= batch {
                    imported += flush(&target, &mut pending).await?;
                    bar.set_message(format!("{imported} documents"));
                }
            }
        }
        Format::Json => {
            let all: Value = serde_json::from_reader(reader)
                .map_err(|e| stop(imported, format!("not a JSON array: {e}")))?;
            let Value::Array(items) = all else {
                return Err(stop(0, "expected a JSON array of documents".into()));
            };
            let mut docs = Vec::with_capacity(items.len());
            for (i, v) in items.into_iter().enumerate() {
                docs.push(to_document(v).map_err(|e| stop(0, format!("element {i}: {e}")))?);
            }
            for d in docs {
                pending.push(d);
                if pending.len() >= batch {
                    imported += flush(&target, &mut pending).await?;
                    bar.set_message(format!("{imported} documents"));
                }
            }
        }
    }
    imported += flush(&target, &mut pending).await?;
    bar.finish_and_clear();
    Ok(imported)
}

async fn flush(target: &shinydb_client::Store, pending: &mut Vec<Document>) -> CliResult<u64> {
    if pending.is_empty() {
        return Ok(0);
    }
    let ids = target.insert_many(pending).await?;
    pending.clear();
    Ok(ids.len() as u64)
}

/// Writes every document of `space.store` to `out` as NDJSON in `_id` order; returns the count.
pub async fn export(c: &Client, space: &str, store: &str, out: &mut impl Write) -> CliResult<u64> {
    let source = c.store(space, store);
    let mut start = None;
    let mut n = 0;
    // A reader that stops early (`shinydb export ... | head`) ends the export quietly.
    let written = |r: std::io::Result<()>| match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::Input(format!("writing the export: {e}"))),
    };
    loop {
        let page = source.scan(start, 0).await?;
        for d in page.documents {
            let line = Bson::Document(d).into_relaxed_extjson().to_string();
            if !written(writeln!(out, "{line}"))? {
                return Ok(n);
            }
            n += 1;
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    written(out.flush())?;
    Ok(n)
}
