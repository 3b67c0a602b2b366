//! Questions to the person at the terminal (prompt on stderr, answer on stdin).

use std::io::{BufRead, Write};

/// Asks for an MFA code for the device `serial`.
pub fn prompt_mfa(serial: &str) -> Result<String, String> {
    let code = ask(&format!("Enter MFA code for {serial}: ")).map_err(|e| e.to_string())?;
    if code.is_empty() {
        Err("no code entered".into())
    } else {
        Ok(code)
    }
}

/// Asks to confirm the removal of `stack` from `account` by typing the stack name.
pub fn confirm_removal(stack: &str, account: &str) -> anyhow::Result<bool> {
    let answer = ask(&format!(
        "Remove stack {stack} and its deployment artifacts from account {account}? Type the \
         stack name to confirm: "
    ))?;
    Ok(answer == stack)
}

/// Asks to confirm watching production stage `stage` of `account` by typing the stage name.
pub fn confirm_watch(stage: &str, account: &str) -> anyhow::Result<bool> {
    let answer = ask(&format!(
        "Stage {stage} (account {account}) is production: every saved file will be shipped to \
         it. Type the stage name to confirm: "
    ))?;
    Ok(answer == stage)
}

/// Prints `question` on stderr and reads one trimmed line from stdin.
fn ask(question: &str) -> std::io::Result<String> {
    super::live::clear();
    let mut err = std::io::stderr().lock();
    write!(err, "{question}")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}
