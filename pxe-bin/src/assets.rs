//! `pxe generate-assets DIR` (hidden, for packaging): a man page per command (clap_mangen) and
//! bash, zsh and fish completions (clap_complete), all from the clap definition in
//! [`crate::cli`], so they never drift from the flags.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{AssetsArgs, Cli};
use crate::error::Error;

/// Writes `DIR/man/pxe.1`, `DIR/man/pxe-<command>.1` (nested commands too, e.g.
/// `pxe-menu-lint.1`) and `DIR/completions/{pxe.bash,_pxe,pxe.fish}`.
pub fn run(args: &AssetsArgs) -> Result<ExitCode, Error> {
    let man = args.out.join("man");
    let completions = args.out.join("completions");
    for dir in [&man, &completions] {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    }
    let mut cmd = Cli::command();
    cmd.build();
    man_pages(&cmd, "pxe", &man)?;
    for (shell, file) in [
        (Shell::Bash, "pxe.bash"),
        (Shell::Zsh, "_pxe"),
        (Shell::Fish, "pxe.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, "pxe", &mut out);
        write(&completions.join(file), &out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The page of `cmd` (named `name`, e.g. `pxe-menu`), then those of its visible subcommands.
fn man_pages(cmd: &clap::Command, name: &str, dir: &Path) -> Result<(), Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name)
        .render(&mut out)
        .map_err(|e| Error::io(format!("render the man page of {name}"), e))?;
    write(&dir.join(format!("{name}.1")), &out)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        man_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::io(format!("write {}", path.display()), e))
}
