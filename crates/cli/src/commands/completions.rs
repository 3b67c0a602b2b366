//! `deployer completions SHELL` and `deployer man`: the shell completion script and the man
//! page, both generated from the command-line grammar so that they cannot drift from it.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::ui::Output;

/// Runs `deployer completions SHELL`: the script on stdout (with `--json`, inside one object).
pub fn completions(out: &Output, args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "deployer", &mut script);
    let script = String::from_utf8(script).context("the completion script is not UTF-8")?;
    if out.json {
        out.json_result(&serde_json::json!({ "shell": args.shell.to_string(), "script": script }));
        return Ok(crate::exit::OK);
    }
    write_stdout(script.as_bytes())
}

/// Runs `deployer man`: the deployer(1) page, in roff, on stdout; with `--dir DIR`, one page
/// per command (deployer.1, deployer-up.1, deployer-deploy-function.1, ...) written into DIR.
/// With `--json`, one object: the page, or the files written.
pub fn man(out: &Output, args: ManArgs) -> anyhow::Result<u8> {
    let cmd = man_command();
    if let Some(dir) = args.dir {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating the man page directory {}", dir.display()))?;
        let mut written = Vec::new();
        write_pages(cmd, &dir, &mut written)
            .with_context(|| format!("writing the man pages into {}", dir.display()))?;
        if out.json {
            out.json_result(&serde_json::json!({ "written": written }));
        } else {
            out.result(&format!(
                "{} man pages written to {}",
                written.len(),
                dir.display()
            ));
        }
        return Ok(crate::exit::OK);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut page)
        .context("rendering the man page")?;
    let page = String::from_utf8(page).context("the man page is not UTF-8")?;
    if out.json {
        out.json_result(&serde_json::json!({ "name": "deployer", "section": 1, "page": page }));
        return Ok(crate::exit::OK);
    }
    write_stdout(page.as_bytes())
}

/// The grammar as the man pages show it: every command gets its own page (so no `help`
/// command, whose page would not exist), with the names of the pages it refers to.
fn man_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Writes the page of `cmd` and of each of its visible subcommands into `dir`.
fn write_pages(
    cmd: clap::Command,
    dir: &std::path::Path,
    written: &mut Vec<std::path::PathBuf>,
) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    written.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
    Ok(())
}

/// Writes generated text to stdout; a closed stdout is an error that says so.
fn write_stdout(text: &[u8]) -> anyhow::Result<u8> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text)
        .and_then(|()| stdout.flush())
        .context("writing to stdout")?;
    Ok(crate::exit::OK)
}
