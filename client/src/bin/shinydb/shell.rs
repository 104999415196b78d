//! `shinydb shell`: YQL queries and dot-commands, with history, multi-line input and
//! completion of commands and store names.

use std::borrow::Cow;

use clap::Parser;
use rustyline::{
    Context, Editor, Helper,
    completion::{Completer, Pair},
    error::ReadlineError,
    highlight::Highlighter,
    hint::Hinter,
    history::FileHistory,
    validate::{ValidationContext, ValidationResult, Validator},
};
use shinydb_client::Client;

use crate::{
    cli::{Cli, Command, Output},
    error::{CliError, CliResult},
    output::render,
    run_command,
};

const HELP: &str = "\
Type a YQL query, such as
  sales.orders.filter(total > 10).orderBy(total, desc).limit(5)
A query may span several lines: input continues until brackets and quotes are closed.

Dot-commands:
  .help                      this text
  .quit, .exit               leave (or Ctrl-D)
  .output json|table         how results are printed (now: table)
  .explain <YQL>             how a query runs
  .refresh                   reload store names for completion
  .<command> [args]          any shinydb subcommand, such as
                             .space list, .store create sales.orders, .index list sales.orders,
                             .user list, .apikey list, .status";

const DOT_COMMANDS: &[&str] = &[
    ".help", ".quit", ".exit", ".output", ".explain", ".refresh", ".space", ".store", ".index",
    ".user", ".apikey", ".status", ".ping",
];
const CALLS: &[&str] = &[
    "filter(",
    "orderBy(",
    "limit(",
    "skip(",
    "pluck(",
    "count()",
    "groupBy(",
    "aggregate(",
    "having(",
    "get(",
    "after(",
    "explain()",
    "insert(",
    "set(",
    "unset(",
    "replace(",
    "delete()",
    "all()",
];

struct ShellHelper {
    /// `space.store` names for completion.
    stores: Vec<String>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || "(,".contains(c))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let pair = |s: &str| Pair {
            display: s.to_string(),
            replacement: s.to_string(),
        };
        if word.starts_with('.') && start == 0 {
            let v = DOT_COMMANDS
                .iter()
                .filter(|c| c.starts_with(word))
                .map(|c| pair(c))
                .collect();
            return Ok((start, v));
        }
        // After `space.store.`: the calls.
        if let Some(dot) = word.rfind('.') {
            let head = &word[..dot];
            if self.stores.iter().any(|s| s == head) || head.contains('(') {
                let tail = &word[dot + 1..];
                let v = CALLS
                    .iter()
                    .filter(|c| c.starts_with(tail))
                    .map(|c| pair(&format!("{head}.{c}")))
                    .collect();
                return Ok((start, v));
            }
        }
        let v = self
            .stores
            .iter()
            .filter(|s| s.starts_with(word))
            .map(|s| pair(s))
            .collect();
        Ok((start, v))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for ShellHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Helper for ShellHelper {}

/// Whether brackets and quotes of `text` are closed (dot-commands are one line).
pub fn complete(text: &str) -> bool {
    if text.trim_start().starts_with('.') {
        return true;
    }
    let mut depth: i64 = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    quote.is_none() && depth <= 0
}

async fn store_names(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(spaces) = c.list_spaces().await {
        for s in spaces {
            if let Ok(stores) = c.list_stores(&s.name).await {
                out.extend(stores.into_iter().map(|t| format!("{}.{}", s.name, t.name)));
            }
        }
    }
    out
}

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("SHINYDB_HISTORY")
        .map(Into::into)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".shinydb_history"))
        })
}

/// Runs the shell until end of input or `.quit`; errors of single commands are printed and
/// the shell goes on. Returns an error only when the terminal fails.
pub fn run(rt: &tokio::runtime::Runtime, client: &Client) -> CliResult<()> {
    let mut ed: Editor<ShellHelper, FileHistory> =
        Editor::new().map_err(|e| CliError::Input(format!("cannot start the line editor: {e}")))?;
    let stores = rt.block_on(store_names(client));
    ed.set_helper(Some(ShellHelper { stores }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = ed.load_history(h);
    }
    let mut output = Output::Table;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "shinydb> "
        } else {
            "     ..> "
        };
        let line = match ed.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(CliError::Input(format!("reading input: {e}"))),
        };
        // Without a terminal the editor does not join lines: unfinished input continues
        // on the next line here.
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if !complete(&buffer) {
            continue;
        }
        let entry = std::mem::take(&mut buffer);
        let text = entry.trim();
        if text.is_empty() {
            continue;
        }
        let _ = ed.add_history_entry(text);
        match text {
            ".quit" | ".exit" => break,
            ".help" => {
                println!("{HELP}");
                continue;
            }
            ".refresh" => {
                let stores = rt.block_on(store_names(client));
                if let Some(h) = ed.helper_mut() {
                    h.stores = stores;
                }
                continue;
            }
            _ => {}
        }
        let result = if let Some(rest) = text.strip_prefix(".output") {
            match rest.trim() {
                "json" => {
                    output = Output::Json;
                    Ok(String::new())
                }
                "table" => {
                    output = Output::Table;
                    Ok(String::new())
                }
                other => Err(CliError::Usage(format!(
                    ".output takes json or table, not {other:?}"
                ))),
            }
        } else if let Some(rest) = text.strip_prefix('.') {
            let args = std::iter::once("shinydb").chain(rest.split_whitespace());
            match Cli::try_parse_from(args) {
                Ok(cli) if matches!(cli.command, Command::Shell | Command::Import { .. }) => Err(
                    CliError::Usage(format!(".{rest} is not available inside the shell")),
                ),
                Ok(cli) => rt.block_on(run_command(client, cli.command)),
                Err(e) => Err(CliError::Usage(e.to_string())),
            }
        } else {
            rt.block_on(client.query(text))
                .map(|o| render(&o, output))
                .map_err(CliError::from)
        };
        match result {
            Ok(s) if s.is_empty() => {}
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {}", e.to_string().trim_end()),
        }
    }
    if !buffer.trim().is_empty() {
        eprintln!("error: the input ended inside brackets or quotes");
    }
    if let Some(h) = &history {
        let _ = ed.save_history(h);
    }
    Ok(())
}
