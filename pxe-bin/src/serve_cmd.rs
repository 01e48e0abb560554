//! `pxe serve` and `pxe tftp`: the command-line flags turned into the server library's
//! config and overrides, then [`pxe_server::serve::run`] / [`pxe_server::tftp::run`].

use std::path::Path;
use std::process::ExitCode;

use pxe_server::config::{Config, Overrides, TftpConfig};
use pxe_server::dhcp::DhcpOverrides;
use pxe_server::dhcp6::Dhcp6Overrides;

use crate::cli::{ServeArgs, TftpArgs};
use crate::error::Error;

/// Runs `pxe serve` (and plain `pxe`, the demo). With `--config`, SIGHUP reads the file
/// again (the flags still win over it) and re-renders the menu when its source changed.
pub fn serve(args: &ServeArgs) -> Result<ExitCode, Error> {
    let demo = args.is_demo();
    let mut overrides = Overrides::default();
    overrides.root.clone_from(&args.root);
    overrides.listen = args.listen;
    overrides.http = args.http;
    overrides.dhcp = dhcp_overrides(args);
    let mut d6 = Dhcp6Overrides::default();
    d6.mode = args.dhcp.dhcp6;
    d6.range = args.dhcp.dhcp6_range;
    overrides.dhcp6 = d6;
    let load = move |path: Option<&Path>| -> Result<Config, Error> {
        let mut config = match path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        config.apply_overrides(&overrides)?;
        Ok(config)
    };
    let config = load(args.config.as_deref())?;
    let source = args.config.clone().map(|path| {
        let mut menu = MenuSource::new(&config);
        Box::new(move || {
            let config = load(Some(&path))?;
            config
                .validate()
                .map_err(|m| Error::Usage(format!("configuration not reloaded: {m}")))?;
            // The rules still apply when the menu cannot be written (a root the service user
            // may not write): the error says so, and the next reload tries again.
            if let Err(e) = menu.rerender_if_changed(&config) {
                tracing::error!(error = %e, "menu not re-rendered; fix the menu source, or let the server's user write the rendered files (or run `pxe menu render` as root), then reload again");
            }
            Ok(config)
        }) as pxe_server::serve::ConfigSource
    });
    pxe_server::serve::run_reloadable(config, demo, source)
}

/// The menu source (`menu = "..."`) as last seen, to re-render it into the root when a
/// reload finds it changed.
struct MenuSource {
    text: Option<String>,
}

impl MenuSource {
    fn new(config: &Config) -> Self {
        let text = config
            .menu
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        Self { text }
    }

    fn rerender_if_changed(&mut self, config: &Config) -> Result<(), Error> {
        let (Some(src), Some(root)) = (&config.menu, &config.root) else {
            return Ok(());
        };
        let text = std::fs::read_to_string(src)
            .map_err(|e| Error::io(format!("read menu {}", src.display()), e))?;
        if self.text.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        let files = crate::menu_cmd::render_toml(&text)
            .map_err(|e| Error::Menu(format!("{}: {e}", src.display())))?;
        // The same rules as `pxe menu render` without `--force`: a foreign or hand-edited
        // file is left alone (and said so), the others are written.
        let w = crate::rendered::write_rendered(root, &files, crate::rendered::OnConflict::Skip)?;
        for s in &w.skipped {
            tracing::warn!(file = %s.path, reason = s.reason, "rendered file not overwritten; move it away or run `pxe menu render --force`");
        }
        tracing::info!(menu = %src.display(), files = w.written.len(), skipped = w.skipped.len(), "menu re-rendered into the root");
        self.text = Some(text);
        Ok(())
    }
}

fn dhcp_overrides(args: &ServeArgs) -> DhcpOverrides {
    let mut d = DhcpOverrides::default();
    d.mode = args.dhcp.dhcp;
    d.interface.clone_from(&args.dhcp.interface);
    d.range = args.dhcp.dhcp_range;
    d.leases.clone_from(&args.dhcp.leases);
    d
}

/// Runs `pxe tftp`, the tftpd-hpa drop-in.
pub fn tftp(args: &TftpArgs) -> Result<ExitCode, Error> {
    let t = TftpConfig {
        listen: Some(args.listen),
        secure: args.secure,
        user: args.user.clone(),
        create: args.create,
        permissive: args.permissive,
        blksize_max: args.blksize_max,
        windowsize_max: args.windowsize_max,
        port_range: args.port_range,
        max_transfers: args.max_transfers,
        max_handshakes: args.max_handshakes,
    };
    pxe_server::tftp::run(&args.root, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MENU: &str = "title = \"Lab\"\ntimeout = 5\ndefault = \"local\"\n\n[[entry]]\n\
                        id = \"local\"\nname = \"Local disk\"\nkind = \"local-boot\"\n";

    /// A reload follows the render record: a distribution's boot.txt is kept, a rendered file
    /// edited by hand is kept, the others are written and recorded.
    #[test]
    fn reload_keeps_foreign_and_edited_files() {
        let dir = std::env::temp_dir().join(format!("pxe-reload-render-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("boot.txt"), "Welcome\n").unwrap();
        let src = dir.join("menu.toml");
        std::fs::write(&src, MENU).unwrap();
        let config = Config {
            root: Some(root.clone()),
            menu: Some(src.clone()),
            ..Config::default()
        };
        let mut m = MenuSource { text: None };
        m.rerender_if_changed(&config).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("boot.txt")).unwrap(),
            "Welcome\n"
        );
        let default = root.join("pxelinux.cfg/default");
        assert!(std::fs::read_to_string(&default).unwrap().contains("Lab"));
        let record = crate::rendered::record(&root);
        assert!(record.contains_key("pxelinux.cfg/default"));
        assert!(!record.contains_key("boot.txt"));

        std::fs::write(&default, "DEFAULT mine\n").unwrap();
        std::fs::write(&src, MENU.replace("Lab", "Lab 2")).unwrap();
        m.rerender_if_changed(&config).unwrap();
        assert_eq!(std::fs::read_to_string(&default).unwrap(), "DEFAULT mine\n");
        assert!(
            std::fs::read_to_string(root.join("boot.ipxe"))
                .unwrap()
                .contains("Lab 2")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
