//! The menu source (`menu = "MENU.toml"`) kept rendered into the root: `pxe serve`
//! re-renders it on a reload when it changed.

use crate::config::Config;
use crate::error::Error;

/// The menu source (`menu = "..."`) as last seen, to re-render it into the root when a
/// reload finds it changed.
#[derive(Debug)]
pub struct MenuSource {
    text: Option<String>,
}

impl MenuSource {
    /// The source `config` names, as it is now.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        let text = config
            .menu
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        Self { text }
    }

    /// Renders the source `config` names into its root when it differs from the last seen.
    pub fn rerender_if_changed(&mut self, config: &Config) -> Result<(), Error> {
        let (Some(src), Some(root)) = (&config.menu, &config.root) else {
            return Ok(());
        };
        let text = std::fs::read_to_string(src)
            .map_err(|e| Error::io(format!("read menu {}", src.display()), e))?;
        if self.text.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        let menu: pxe_menu::Menu =
            toml::from_str(&text).map_err(|e| Error::Menu(format!("{}: {e}", src.display())))?;
        let files = menu
            .render()
            .map_err(|e| Error::Menu(format!("{}: {e}", src.display())))?;
        for f in &files {
            let dest = root.join(&f.path);
            crate::atomic::write_atomic(&dest, f.contents.as_bytes(), 0o644)
                .map_err(|e| Error::io(format!("write {}", dest.display()), e))?;
        }
        tracing::info!(menu = %src.display(), files = files.len(), "menu re-rendered into the root");
        self.text = Some(text);
        Ok(())
    }
}
