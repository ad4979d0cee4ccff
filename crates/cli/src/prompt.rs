//! Secrets from the environment or the terminal, never from a pipe by surprise.

use anyhow::{Result, bail};
use std::io::IsTerminal;

pub const PASSPHRASE_ENV: &str = "LIAISON_PASSPHRASE";
pub const PASSWORD_ENV: &str = "LIAISON_PASSWORD";

pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// `$var` when set, else a hidden prompt on a terminal, else `Ok(None)`.
pub fn secret(var: &str, prompt: &str) -> Result<Option<String>> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Some(value));
    }
    if !interactive() {
        return Ok(None);
    }
    Ok(Some(rpassword::prompt_password(prompt)?))
}

/// A new secret, typed twice on a terminal (or taken from `$var`).
pub fn new_secret(var: &str, what: &str) -> Result<String> {
    if let Ok(value) = std::env::var(var) {
        return Ok(value);
    }
    if !interactive() {
        bail!("no {what} given: set {var} or run this on a terminal");
    }
    let first = rpassword::prompt_password(format!("New {what}: "))?;
    let second = rpassword::prompt_password(format!("Repeat the {what}: "))?;
    if first != second {
        bail!("the two {what}s differ; nothing was created");
    }
    Ok(first)
}

pub fn confirm(question: &str) -> Result<bool> {
    use std::io::Write;
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
