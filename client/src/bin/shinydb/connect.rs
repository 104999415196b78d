//! Builds the client from the connection options and standard input.

use std::io::BufRead;

use shinydb_client::{Client, Timeouts};

use crate::{
    cli::{Connection, TimeoutPreset},
    error::{CliError, CliResult},
};

/// Reads one line of standard input (without its line ending); `what` names it in errors.
pub fn stdin_line(what: &str) -> CliResult<String> {
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Input(format!("reading {what} from standard input: {e}")))?;
    if n == 0 {
        return Err(CliError::Usage(format!(
            "expected {what} on standard input, found none"
        )));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The client for these options (connections open lazily). Must run inside a Tokio runtime.
pub fn client(c: &Connection, timeouts: Option<Timeouts>) -> CliResult<Client> {
    let mut b = Client::builder(&c.endpoint);
    if let Some(path) = &c.ca_cert {
        let pem = std::fs::read(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read CA certificate {}: {e}",
                path.display()
            ))
        })?;
        b = b.ca_cert_pem(pem);
    }
    if let Some(d) = &c.tls_domain {
        b = b.tls_domain(d);
    }
    match (&c.user, &c.api_key) {
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "give either --user or --api-key, not both".into(),
            ));
        }
        (Some(user), None) => {
            let password = if c.password_stdin {
                stdin_line("the login password")?
            } else {
                std::env::var("SHINYDB_PASSWORD").map_err(|_| {
                    CliError::Usage(format!(
                        "no password for user {user}: use --password-stdin or SHINYDB_PASSWORD"
                    ))
                })?
            };
            b = b.password(user, &password);
        }
        (None, Some(key)) => b = b.api_key(key),
        (None, None) => {}
    }
    let preset = match c.timeouts {
        TimeoutPreset::Default => Timeouts::default(),
        TimeoutPreset::Fast => Timeouts::fast(),
        TimeoutPreset::None => Timeouts::none(),
    };
    Ok(b.timeouts(timeouts.unwrap_or(preset))
        .connections(1)
        .build()?)
}

/// Splits `space.store`.
pub fn target(text: &str) -> CliResult<(String, String)> {
    match text.split_once('.') {
        Some((space, store)) if !space.is_empty() && !store.is_empty() && !store.contains('.') => {
            Ok((space.to_string(), store.to_string()))
        }
        _ => Err(CliError::Usage(format!(
            "{text:?} is not space.store (for example sales.orders)"
        ))),
    }
}
